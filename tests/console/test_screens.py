"""The console's screens and actions, in-process: timeline entries, form errors, language, data."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import timedelta
from typing import Any

from tests.console.conftest import Console


async def open_request(c: Console, category: str = "emergency") -> dict[str, Any]:
    body = {"elder_id": c.district.e1, "summary": "按了求助键", "category": category}
    response = await c.client.post("/api/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def timeline(c: Console, incident_id: int) -> list[tuple[str, str]]:
    data = (await c.client.get(f"/api/v1/incidents/{incident_id}")).json()
    return [(e["action"], e["actor"]) for e in data["timeline"]]


async def test_the_queue_shows_an_untaken_emergency_until_someone_takes_it(
    operator: Console,
) -> None:
    """An open emergency is highlighted as untaken; "take" records the operator and ends it."""
    incident = await open_request(operator)
    queue = (await operator.client.get("/console/")).text
    assert 'data-untaken="1"' in queue and "陈秀英" in queue and "紧急" in queue
    token = await operator.csrf("/console/")
    taken = await operator.client.post(
        f"/console/incidents/{incident['id']}/take", data={"csrf": token}
    )
    assert taken.headers["location"] == f"/console/incidents/{incident['id']}"
    assert ("taken", "operator:王芳") in await timeline(operator, incident["id"])
    assert 'data-untaken="1"' not in (await operator.client.get("/console/")).text


async def test_every_operator_action_lands_in_the_timeline_with_their_name(
    operator: Console,
) -> None:
    """Assign, note and escalate from the console go through the workflow as operator:王芳."""
    incident = await open_request(operator)
    path, token = f"/console/incidents/{incident['id']}", await operator.csrf("/console/")
    h2 = operator.district.h2
    for action, data in (
        ("assign", {"helper_id": str(h2)}),
        ("note", {"text": "已致电老人，意识清醒"}),
        ("escalate", {"level": "emergency_services", "note": "胸痛"}),
    ):
        response = await operator.client.post(f"{path}/{action}", data={"csrf": token, **data})
        assert response.status_code == 303, response.text
    entries = await timeline(operator, incident["id"])
    for action in ("assigned_by_operator", "note", "escalated"):
        assert (action, "operator:王芳") in entries
    page = (await operator.client.get(path)).text
    assert "许木兴" in page and "已致电老人" in page and "呼叫 120" in page


def candidates_table(page: str) -> str:
    """The HTML of the incident page's candidate list (names elsewhere on the page left out)."""
    found = re.search(r'<table class="grid-table candidates">.*?</table>', page, re.DOTALL)
    assert found, page
    return found.group()


async def test_the_candidates_listed_are_the_ones_dispatch_would_ask(operator: Console) -> None:
    """A helper who declined is free and nearest, but dispatch skips them, so the page does too."""
    incident = await open_request(operator)
    h1, h2 = operator.district.h1, operator.district.h2
    assert incident["offers"][0]["helper_id"] == h1
    path = f"/console/incidents/{incident['id']}"
    listed = candidates_table((await operator.client.get(path)).text)
    assert "许木兴" in listed and "黄少卿" not in listed  # H1 holds the offer, H2 is free
    declined = await operator.client.post(
        f"/api/v1/incidents/{incident['id']}/decline", json={"helper_id": h1}
    )
    assert declined.status_code == 200, declined.text
    assert [o["helper_id"] for o in declined.json()["offers"]] == [h1, h2]
    listed = candidates_table((await operator.client.get(path)).text)
    assert "黄少卿" not in listed and "许木兴" not in listed  # declined; holds the new offer


async def test_closing_needs_an_arrival_and_a_wrong_form_keeps_what_was_typed(
    operator: Console,
) -> None:
    """Close before arrival is refused with a message; an empty reason is refused, text kept."""
    incident = await open_request(operator)
    path, token = f"/console/incidents/{incident['id']}", await operator.csrf("/console/")
    early = await operator.client.post(f"{path}/close", data={"csrf": token, "outcome": "已处理"})
    assert early.status_code == 409 and "操作未执行" in early.text
    assert 'value="已处理"' in early.text  # refused, but not lost
    blank = await operator.client.post(f"{path}/false-alarm", data={"csrf": token, "note": ""})
    assert blank.status_code == 422 and "请写明判定为误报的理由" in blank.text
    note = await operator.client.post(f"{path}/note", data={"csrf": token, "text": "  "})
    assert note.status_code == 422 and "此项必填" in note.text
    done = await operator.client.post(
        f"{path}/false-alarm", data={"csrf": token, "note": "已致电，误触"}
    )
    assert done.status_code == 303
    assert ("false_alarm", "operator:王芳") in await timeline(operator, incident["id"])


async def test_an_incident_closes_with_an_outcome_once_the_helper_is_on_scene(
    operator: Console,
) -> None:
    """After the helper's arrival (API) the page says "arrived" and the close form works."""
    incident = await open_request(operator)
    helper = incident["offers"][0]["helper_id"]
    api = f"/api/v1/incidents/{incident['id']}"
    operator.clock.advance(timedelta(minutes=1))
    await operator.client.post(f"{api}/accept", json={"helper_id": helper})
    operator.clock.advance(timedelta(minutes=7))
    await operator.client.post(f"{api}/arrived", json={"helper_id": helper})
    path, token = f"/console/incidents/{incident['id']}", await operator.csrf("/console/")
    page = (await operator.client.get(path)).text
    assert "按时到场" in page and 'name="outcome"' in page
    closed = await operator.client.post(f"{path}/close", data={"csrf": token, "outcome": "已送医"})
    assert closed.status_code == 303
    body = (await operator.client.get(api)).json()
    assert (body["state"], body["outcome"]) == ("resolved", "已送医")


async def test_elder_edit_errors_are_per_field_and_nothing_typed_is_lost(
    operator: Console,
) -> None:
    """A bad latitude and a malformed contact come back marked, with every value as typed."""
    path, token = f"/console/elders/{operator.district.e1}", await operator.csrf("/console/")
    form = {
        "csrf": token,
        "name": "陈秀英",
        "age": "82",
        "phone": "",
        "community": "金涛社区",
        "address": "金涛社区3栋201房",
        "home_lat": "123.4",
        "home_lon": "116.7",
        "medical_notes": "高血压，服用氨氯地平",
        "key_safe_note": "密码箱 2580",
        "contacts": "陈国强|儿子|+8613900000001\n只有名字",
    }
    response = await operator.client.post(path, data=form)
    assert response.status_code == 422
    assert "应在 -90 到 90 之间" in response.text and "第 2 行格式应为" in response.text
    assert "高血压，服用氨氯地平" in response.text and 'value="123.4"' in response.text
    form.update(home_lat="23.37", contacts="陈国强|儿子|+8613900000001\n林惠芳|女儿|+86139")
    assert (await operator.client.post(path, data=form)).status_code == 303
    elder = (await operator.client.get(f"/api/v1/elders/{operator.district.e1}")).json()
    assert elder["medical_notes"] == "高血压，服用氨氯地平"


async def test_english_is_one_click_away_and_errors_follow_it(operator: Console) -> None:
    """The language toggle switches labels and form errors to English."""
    toggle = await operator.client.get("/console/lang?to=en&next=/console/helpers")
    assert toggle.headers["location"] == "/console/helpers"
    page = (await operator.client.get("/console/helpers")).text
    assert "On duty" in page and "Helpers" in page
    incident = await open_request(operator)
    token = await operator.csrf("/console/")
    response = await operator.client.post(
        f"/console/incidents/{incident['id']}/note", data={"csrf": token, "text": ""}
    )
    assert "This field is required." in response.text


async def test_rosters_statistics_and_export_render(operator: Console) -> None:
    """Helpers, devices, elders and statistics render; the CSV export has one row per incident."""
    await open_request(operator)
    await open_request(operator, "general")
    for path, expect in (
        ("/console/helpers", "黄少卿"),
        ("/console/devices", "860000000000001"),
        ("/console/elders?q=林", "林德明"),
        ("/console/stats?days=7&by=week", "按时到场率"),
    ):
        response = await operator.client.get(path)
        assert response.status_code == 200 and expect in response.text, path
    export = await operator.client.get("/console/stats/export.csv?days=7")
    lines = export.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("id,created_local,category") and len(lines) == 3


async def test_duty_can_be_set_from_the_roster(operator: Console) -> None:
    """Setting a helper off duty from the roster is what the API then reports."""
    token = await operator.csrf("/console/")
    h1 = operator.district.h1
    await operator.client.post(f"/console/helpers/{h1}/duty", data={"csrf": token, "on_duty": "0"})
    helpers = (await operator.client.get("/api/v1/helpers")).json()
    assert next(h for h in helpers if h["id"] == h1)["on_duty"] is False


async def test_the_stream_pushes_the_queue_rows(operator: Console) -> None:
    """The SSE stream sends the rendered rows and counts, and ends when the server stops."""
    await open_request(operator)

    async def stop_soon() -> None:
        await asyncio.sleep(0.3)
        operator.config.stopping.set()

    stopper = asyncio.create_task(stop_soon())
    try:
        response = await operator.client.get("/console/stream")
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await stopper
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "event: queue" in response.text and "陈秀英" in response.text
    assert '"counts": {"open": 1, "at_risk": 0, "breached": 0}' in response.text


async def test_the_timeline_reads_as_sentences_in_chinese_and_local_time(operator: Console) -> None:
    """Timeline lines are rendered from their codes: who was offered, in Chinese, escaped."""
    incident = await open_request(operator)
    page = (await operator.client.get(f"/console/incidents/{incident['id']}")).text
    assert "派单给黄少卿" in page
