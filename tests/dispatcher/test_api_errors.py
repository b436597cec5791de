"""Bad input is a 422 problem, never a 500: the inputs that once crashed the API, one by one.

Each answer is an RFC 9457 problem (``application/problem+json``: type, title, status, detail,
and for a 422 the fields at fault). Run on SQLite and PostgreSQL: PostgreSQL is the stricter one
(NUL in text, 32-bit integers, VARCHAR lengths), SQLite would store much of it silently.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from dispatcher.clock import FakeClock
from dispatcher.store.database import Database
from dispatcher.store.users import Role
from dispatcher.web.app import create_app
from dispatcher.web.console import ConsoleConfig
from dispatcher.web.console.passwords import create_user
from dispatcher.web.context import AppContext
from dispatcher.workflow import Workflow
from tests.dispatcher.district import T0, District, load

PROBLEM = "application/problem+json"
TOO_BIG = [2**31, 2**63, 10**22]  # one past INTEGER, one past BIGINT, one past both
CSV = {"content-type": "text/csv"}
ELDERS_HEADER = "ref,name,age,address,lat,lon,medical_notes,contacts\n"


@pytest.fixture
async def district(database: Database) -> District:
    return await load(database)


@pytest.fixture
def app_ctx(database: Database) -> AppContext:
    return AppContext(
        db=database, workflow=Workflow(database), clock=FakeClock(T0), ready=lambda: True
    )


@pytest.fixture
async def api(app_ctx: AppContext, district: District) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(app_ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://huyuan") as client:
        yield client


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    """The response is a problem with this status; its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["title"] and body["type"] and body["detail"]
    assert "Traceback" not in r.text
    return body


def pointers(body: dict[str, Any]) -> set[str]:
    return {e.get("pointer") or e.get("parameter") for e in body["errors"]}


async def open_incident(api: httpx.AsyncClient, district: District) -> int:
    r = await api.post("/api/v1/incidents", json={"elder_id": district.e1, "summary": "买菜"})
    assert r.status_code == 201, r.text
    iid: int = r.json()["id"]
    return iid


# ---- ids past the 32-bit columns -----------------------------------------------------------


PATH_IDS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/incidents/{incident_id}", None),
    ("GET", "/api/v1/elders/{elder_id}", None),
    ("POST", "/api/v1/incidents/{incident_id}/notes", {"text": "已致电"}),
    ("POST", "/api/v1/incidents/{incident_id}/resolve", {"helper_id": 1, "outcome": "完成"}),
    ("POST", "/api/v1/helpers/{helper_id}/duty", {"on_duty": True}),
    ("PUT", "/api/v1/helpers/{helper_id}/location", {"lat": 23.37, "lon": 116.7}),
]


async def test_path_ids_past_32_bits_are_refused(api: httpx.AsyncClient) -> None:
    """An id in the path past 2^31-1 is a 422 naming the parameter, not a database overflow."""
    for method, path, body in PATH_IDS:
        name = path.split("{")[1].split("}")[0]
        for big in TOO_BIG:
            r = await api.request(method, path.replace("{" + name + "}", str(big)), json=body)
            assert pointers(problem(r, 422)) == {name}, (path, big)


async def test_ids_below_one_are_refused(api: httpx.AsyncClient) -> None:
    """Ids start at 1: zero and negative ids are a 422, even past the 32-bit range."""
    for bad in (0, -1, -(2**40)):
        body = problem(await api.get(f"/api/v1/incidents/{bad}"), 422)
        assert pointers(body) == {"incident_id"}


async def test_query_ids_past_32_bits_are_refused(api: httpx.AsyncClient) -> None:
    """An incident_id filter past 2^31-1 is a 422, not a database overflow."""
    for big in TOO_BIG:
        body = problem(await api.get("/api/v1/outbox", params={"incident_id": big}), 422)
        assert pointers(body) == {"incident_id"}


async def test_body_ids_past_32_bits_are_refused(
    api: httpx.AsyncClient, district: District
) -> None:
    """A helper_id or elder_id past 2^31-1 in a body is a 422 with a JSON pointer to it."""
    iid = await open_incident(api, district)
    for big in TOO_BIG:
        for path in ("accept", "decline", "arrived", "assign"):
            r = await api.post(f"/api/v1/incidents/{iid}/{path}", json={"helper_id": big})
            assert pointers(problem(r, 422)) == {"#/helper_id"}
        r = await api.post("/api/v1/incidents", json={"elder_id": big, "summary": "买菜"})
        assert pointers(problem(r, 422)) == {"#/elder_id"}


async def test_the_largest_id_is_a_plain_not_found(api: httpx.AsyncClient) -> None:
    """2^31-1 itself is a valid id that names nothing: 404, with a not-found problem type."""
    body = problem(await api.get(f"/api/v1/incidents/{2**31 - 1}"), 404)
    assert body["type"].endswith(":not-found") and "does not exist" in body["detail"]


# ---- control characters in text --------------------------------------------------------------


async def test_one_line_text_refuses_control_characters(
    api: httpx.AsyncClient, district: District
) -> None:
    """NUL (which PostgreSQL refuses), escapes, DEL, C1 and line breaks in one-line text: 422."""
    iid = await open_incident(api, district)
    for url, field in [
        ("/api/v1/incidents", "summary"),
        (f"/api/v1/incidents/{iid}/resolve", "outcome"),
        (f"/api/v1/incidents/{iid}/withdraw", "reason"),
    ]:
        for char in ("\x00", "\x1b", "\x7f", "\x85", "\n"):
            body = {"elder_id": district.e1, "helper_id": district.h1, field: f"a{char}b"}
            (error,) = problem(await api.post(url, json=body), 422)["errors"]
            assert error["pointer"] == f"#/{field}" and error["code"] == "control_character"
            assert f"U+{ord(char):04X}" in error["detail"]


async def test_notes_refuse_nul_but_keep_line_breaks(
    api: httpx.AsyncClient, district: District
) -> None:
    """Free-text notes may span lines (kept as typed), but a NUL in them is still a 422."""
    iid = await open_incident(api, district)
    for path, field in [("notes", "text"), ("escalate", "note"), ("false-alarm", "note")]:
        extra = {"level": "supervisor"} if path == "escalate" else {}
        url = f"/api/v1/incidents/{iid}/{path}"
        r = await api.post(url, json={field: "a\x00b", **extra})
        assert pointers(problem(r, 422)) == {f"#/{field}"}
        r = await api.post(url, json={field: "一\r\n二\t三", **extra})
        assert r.status_code == 200, r.text
        assert any(e["detail"].get(field) == "一\r\n二\t三" for e in r.json()["timeline"])


async def test_lone_surrogates_are_refused(api: httpx.AsyncClient, district: District) -> None:
    """Text no UTF-8 can hold (a lone surrogate escaped in JSON) is a 422, not an encoding crash."""
    content = b'{"elder_id": %d, "summary": "a\\ud800b"}' % district.e1
    r = await api.post(
        "/api/v1/incidents", content=content, headers={"content-type": "application/json"}
    )
    assert pointers(problem(r, 422)) == {"#/summary"}


async def test_search_text_refuses_nul_and_is_bounded(api: httpx.AsyncClient) -> None:
    """The elders search ``q`` refuses control characters and more than 100 characters: 422."""
    assert pointers(problem(await api.get("/api/v1/elders", params={"q": "陈\x00"}), 422)) == {"q"}
    assert pointers(problem(await api.get("/api/v1/elders", params={"q": "x" * 101}), 422)) == {"q"}
    assert [e["name"] for e in (await api.get("/api/v1/elders", params={"q": "陈"})).json()] == [
        "陈秀英"
    ]


async def test_text_past_its_column_is_refused(api: httpx.AsyncClient, district: District) -> None:
    """A summary longer than its VARCHAR(300) column is a 422, not a truncation error."""
    r = await api.post("/api/v1/incidents", json={"elder_id": district.e1, "summary": "x" * 301})
    assert problem(r, 422)["errors"][0]["code"] == "string_too_long"


# ---- CSV import: row-level problems, nothing written ------------------------------------------


async def elder_count(api: httpx.AsyncClient) -> int:
    return len((await api.get("/api/v1/elders")).json())


async def test_csv_age_in_words_is_a_row_error_and_nothing_is_written(
    api: httpx.AsyncClient,
) -> None:
    """``age=eighty`` is a 422 naming line 3 and its column; the good row before it is not kept."""
    before = await elder_count(api)
    text = ELDERS_HEADER + "E8,王芳,80,地址,23.37,116.7,,\nE9,李强,eighty,地址,23.37,116.7,,\n"
    body = problem(await api.post("/api/v1/import/elders", content=text, headers=CSV), 422)
    assert body["type"].endswith(":invalid-input")
    assert body["detail"] == "line 3: age 'eighty' is not a whole number"
    assert body["errors"] == [{"detail": body["detail"], "line": 3, "field": "age"}]
    assert await elder_count(api) == before


async def test_csv_cells_past_their_columns_are_row_errors(api: httpx.AsyncClient) -> None:
    """Names over 100 characters, refs over 64, ages past 130, NaN positions: 422 with the line."""
    for row, field in [
        ("E9,{long},80,地址,23.37,116.7,,", "name"),
        ("{long},王芳,80,地址,23.37,116.7,,", "ref"),
        ("E9,王芳,80,地址,23.37,116.7,,{long}|儿子|+86139", "contacts"),
        ("E9,王芳,2147483648,地址,23.37,116.7,,", "age"),
        ("E9,王芳,80,地址,nan,116.7,,", "lat"),
    ]:
        text = ELDERS_HEADER + row.format(long="长" * 101) + "\n"
        r = await api.post("/api/v1/import/elders", content=text, headers=CSV)
        assert problem(r, 422)["errors"][0] | {"detail": ""} == {
            "detail": "",
            "line": 2,
            "field": field,
        }


async def test_csv_names_of_exactly_100_characters_are_kept(api: httpx.AsyncClient) -> None:
    """The bound is the column: a 100-character name is imported whole, on every database."""
    text = ELDERS_HEADER + f"E9,{'长' * 100},80,地址,23.37,116.7,,\n"
    r = await api.post("/api/v1/import/elders", content=text, headers=CSV)
    assert r.json() == {"created": 1, "updated": 0}
    assert "长" * 100 in [e["name"] for e in (await api.get("/api/v1/elders")).json()]


async def test_csv_control_characters_are_row_errors(api: httpx.AsyncClient) -> None:
    """A NUL (or another control character) in a CSV cell is a 422 naming its line and column."""
    for char in ("\x00", "\x07", "\x9b"):
        text = ELDERS_HEADER + f"E9,王{char}芳,80,地址,23.37,116.7,,\n"
        body = problem(await api.post("/api/v1/import/elders", content=text, headers=CSV), 422)
        assert body["errors"][0]["field"] == "name" and body["errors"][0]["line"] == 2


async def test_csv_notes_may_span_lines_and_errors_count_lines(api: httpx.AsyncClient) -> None:
    """A quoted multi-line medical note is kept; a bad row after it is reported on its own line."""
    good = 'E8,王芳,80,地址,23.37,116.7,"高血压\n糖尿病",\n'
    r = await api.post("/api/v1/import/elders", content=ELDERS_HEADER + good, headers=CSV)
    assert r.json() == {"created": 1, "updated": 0}
    bad = good + "E9,李强,eighty,地址,23.37,116.7,,\n"
    body = problem(
        await api.post("/api/v1/import/elders", content=ELDERS_HEADER + bad, headers=CSV), 422
    )
    assert body["errors"][0]["line"] == 4


async def test_csv_repeated_refs_are_row_errors(api: httpx.AsyncClient) -> None:
    """A ref twice in one file is a 422 naming both lines, not a unique-constraint crash."""
    row = "E9,王芳,80,地址,23.37,116.7,,\n"
    body = problem(
        await api.post("/api/v1/import/elders", content=ELDERS_HEADER + row * 2, headers=CSV), 422
    )
    assert body["detail"] == "line 3: ref 'E9' repeats line 2"
    helpers = "ref,name,phone,travel_mode\nH9,甲,+86137,walk\nH9,乙,+86137,car\n"
    body = problem(await api.post("/api/v1/import/helpers", content=helpers, headers=CSV), 422)
    assert body["errors"][0]["field"] == "ref"


async def test_csv_device_intervals_are_bounded(api: httpx.AsyncClient) -> None:
    """A report_interval_s in words, zero or past a week is a 422 naming the column."""
    for interval in ("ten", "0", "2147483648", "99999999999999999999"):
        text = (
            f"device_id,elder_ref,model,report_interval_s\n860000000000009,E1,handset,{interval}\n"
        )
        body = problem(await api.post("/api/v1/import/devices", content=text, headers=CSV), 422)
        assert body["errors"][0] | {"detail": ""} == {
            "detail": "",
            "line": 2,
            "field": "report_interval_s",
        }


async def test_csv_that_is_not_utf8_is_refused(api: httpx.AsyncClient) -> None:
    """Bytes that are not UTF-8 text are a 422 before any row is read."""
    text = b"device_id,elder_ref,model\n\xff\xfe,E1,handset\n"
    problem(await api.post("/api/v1/import/devices", content=text, headers=CSV), 422)


# ---- every error is a problem -----------------------------------------------------------------


async def test_unknown_ids_are_not_found_problems(api: httpx.AsyncClient) -> None:
    """An incident, elder or helper that does not exist is a 404 problem naming it."""
    for r in (
        await api.get("/api/v1/incidents/999"),
        await api.get("/api/v1/elders/999"),
        await api.post("/api/v1/helpers/999/duty", json={"on_duty": True}),
        await api.post("/api/v1/incidents", json={"elder_id": 999, "summary": "买菜"}),
    ):
        assert "999 does not exist" in problem(r, 404)["detail"]


async def test_state_conflicts_are_conflict_problems(
    api: httpx.AsyncClient, district: District
) -> None:
    """An action the incident's state forbids is a 409 problem saying why."""
    iid = await open_incident(api, district)
    r = await api.post(f"/api/v1/incidents/{iid}/arrived", json={"helper_id": district.h2})
    body = problem(r, 409)
    assert body["type"].endswith(":conflict") and "not assigned" in body["detail"]


async def test_bodies_that_are_not_json_are_problems(api: httpx.AsyncClient) -> None:
    """Malformed JSON is a 422 pointing at the body; bytes that are not UTF-8 are a 400."""
    json_type = {"content-type": "application/json"}
    r = await api.post("/api/v1/incidents", content=b"{", headers=json_type)
    assert problem(r, 422)["errors"][0]["code"] == "json_invalid"
    problem(await api.post("/api/v1/incidents", content=b"\xff", headers=json_type), 400)


async def test_routes_and_methods_that_do_not_exist_are_problems(api: httpx.AsyncClient) -> None:
    """An unknown path is a 404 problem; a method a route lacks is a 405 problem with Allow."""
    problem(await api.get("/api/v1/nope"), 404)
    r = await api.delete("/api/v1/helpers")
    problem(r, 405)
    assert r.headers["allow"] == "GET"


async def test_missing_tokens_are_problems(database: Database) -> None:
    """Without a valid token the API answers a 401 problem with its WWW-Authenticate challenge."""
    ctx = AppContext(
        db=database,
        workflow=Workflow(database),
        clock=FakeClock(T0),
        api_tokens=frozenset({"s3cret"}),
    )
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://huyuan") as client:
        r = await client.get("/api/v1/incidents/1")
    problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"


async def test_a_crash_is_logged_and_answered_without_its_traceback(app_ctx: AppContext) -> None:
    """An unexpected exception is logged with its traceback and answered as a bare 500 problem."""
    app = create_app(app_ctx)

    async def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://huyuan") as client:
        with capture_logs() as logs:
            r = await client.get("/boom")
    body = problem(r, 500)
    assert body["type"].endswith(":internal") and "secret" not in r.text
    (entry,) = [e for e in logs if e["event"] == "unhandled_error"]
    assert (entry["path"], entry["error"], entry["log_level"]) == ("/boom", "RuntimeError", "error")


async def test_the_schema_documents_problems(api: httpx.AsyncClient) -> None:
    """/openapi.json documents 4xx answers as problem+json and publishes the input bounds."""
    spec = (await api.get("/openapi.json")).json()
    accept = spec["paths"]["/api/v1/incidents/{incident_id}/accept"]["post"]
    for status in ("401", "404", "409", "422"):
        assert PROBLEM in accept["responses"][status]["content"]
    (param,) = accept["parameters"]
    assert (param["schema"]["minimum"], param["schema"]["maximum"]) == (1, 2**31 - 1)
    summary = spec["components"]["schemas"]["HelpRequest"]["properties"]["summary"]
    assert summary["maxLength"] == 300 and summary["pattern"].startswith("^[^")


# ---- the console's forms and links ------------------------------------------------------------

PASSWORD = "correct-horse-battery"


async def csrf(client: httpx.AsyncClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', (await client.get(path)).text)
    assert found
    return found.group(1)


@pytest.fixture
async def console(app_ctx: AppContext, district: District) -> AsyncIterator[httpx.AsyncClient]:
    """A supervisor signed in to the console."""
    async with app_ctx.db.session() as s:
        await create_user(
            s, username="li", display_name="李强", role=Role.SUPERVISOR, password=PASSWORD, now=T0
        )
    app = create_app(app_ctx, ConsoleConfig(session_secret="test-secret-" + "x" * 32))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://huyuan") as client:
        form = {"csrf": await csrf(client, "/console/login"), "username": "li"}
        r = await client.post("/console/login", data=form | {"password": PASSWORD})
        assert r.status_code == 303, r.text
        yield client


async def test_console_links_past_32_bit_ids_are_refused(console: httpx.AsyncClient) -> None:
    """Console pages for an incident or elder id past 2^31-1 answer 422, not a database error."""
    for path in ("/console/incidents/", "/console/elders/"):
        assert pointers(problem(await console.get(f"{path}{2**31}"), 422))


async def test_console_elder_form_bounds_each_field_to_its_column(
    console: httpx.AsyncClient, district: District
) -> None:
    """A 101-character name or an overlong contact is shown next to its field, with a 422 page."""
    page = f"/console/elders/{district.e1}"
    form = {
        "csrf": await csrf(console, page),
        "name": "长" * 101,
        "address": "地址",
        "home_lat": "23.37",
        "home_lon": "116.7",
        "contacts": f"{'长' * 101}|儿子|+8613900000001",
    }
    r = await console.post(page, data=form)
    assert r.status_code == 422 and "100" in r.text and "field-error" in r.text
    elder = (await console.get(f"/api/v1/elders/{district.e1}")).json()
    assert elder["name"] == "陈秀英"


async def test_console_forms_refuse_control_characters(
    console: httpx.AsyncClient, district: District
) -> None:
    """A NUL in any posted console form (a crafted request) is a 422 problem, not a crash."""
    iid = await open_incident(console, district)
    page = f"/console/incidents/{iid}"
    r = await console.post(f"{page}/note", data={"csrf": await csrf(console, page), "text": "\x00"})
    assert "'text'" in problem(r, 422)["detail"]
    r = await console.post(
        f"{page}/assign", data={"csrf": await csrf(console, page), "helper_id": str(2**31)}
    )
    assert r.status_code == 422 and "field-error" in r.text
