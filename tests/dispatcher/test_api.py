"""The REST API over a real database, called in-process through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from dispatcher.clock import FakeClock
from dispatcher.store.database import Database
from dispatcher.web.app import create_app
from dispatcher.web.context import AppContext
from dispatcher.workflow import Workflow
from tests.dispatcher.district import T0, District, load


@pytest.fixture
async def district(database: Database) -> District:
    return await load(database)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def api(database: Database, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    ctx = AppContext(db=database, workflow=Workflow(database), clock=clock, ready=lambda: True)
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://huyuan") as client:
        yield client


async def test_a_help_request_runs_from_offer_to_resolution(
    api: httpx.AsyncClient, district: District, clock: FakeClock
) -> None:
    """An operator's request is offered, accepted, reached and closed, all over the API."""
    r = await api.post("/api/v1/incidents", json={"elder_id": district.e1, "summary": "买菜"})
    assert r.status_code == 201
    incident = r.json()
    assert (incident["category"], incident["state"]) == ("general", "offered")
    assert incident["deadline"].startswith("2026-11-23T00:30:00")
    helper = incident["offers"][0]["helper_id"]
    # The code tools and tests read is the one in the helper's SMS: six digits.
    code = incident["offers"][0]["code"]
    assert len(code) == 6 and code.isdigit()
    clock.advance(timedelta(minutes=1))
    r = await api.post(f"/api/v1/incidents/{incident['id']}/accept", json={"helper_id": helper})
    assert r.json()["assigned_helper"]["id"] == helper
    clock.advance(timedelta(minutes=10))
    r = await api.post(f"/api/v1/incidents/{incident['id']}/arrived", json={"helper_id": helper})
    assert r.json()["sla_status"] == "met"
    r = await api.post(
        f"/api/v1/incidents/{incident['id']}/resolve",
        json={"helper_id": helper, "outcome": "已送达"},
    )
    body = r.json()
    assert (body["state"], body["outcome"]) == ("resolved", "已送达")
    assert [e["action"] for e in body["timeline"]][:3] == ["created", "offered", "accepted"]
    assert (await api.get("/api/v1/incidents")).json() == []  # the queue holds open ones only


async def test_queue_is_ordered_by_deadline(api: httpx.AsyncClient, district: District) -> None:
    """The operators' queue shows the most urgent deadline first."""
    await api.post("/api/v1/incidents", json={"elder_id": district.e2, "summary": "修水龙头"})
    await api.post(
        "/api/v1/incidents",
        json={"elder_id": district.e1, "summary": "胸闷", "category": "emergency"},
    )
    queue = (await api.get("/api/v1/incidents")).json()
    assert [i["category"] for i in queue] == ["emergency", "general"]
    assert queue[0]["elder"]["name"] == "陈秀英"


async def test_wrong_actions_get_clear_errors(api: httpx.AsyncClient, district: District) -> None:
    """Unknown ids are 404, actions the state forbids are 409, bad bodies are 422."""
    assert (await api.get("/api/v1/incidents/999")).status_code == 404
    r = await api.post("/api/v1/incidents", json={"elder_id": district.e1, "summary": "陪同"})
    iid = r.json()["id"]
    r = await api.post(f"/api/v1/incidents/{iid}/arrived", json={"helper_id": district.h2})
    assert r.status_code == 409 and "not assigned" in r.json()["detail"]
    r = await api.put(f"/api/v1/helpers/{district.h1}/location", json={"lat": 123, "lon": 0})
    assert r.status_code == 422


async def test_helpers_go_on_and_off_duty(api: httpx.AsyncClient, district: District) -> None:
    """A helper off duty gets no offers; back on duty with a fresh position, they do."""
    for helper in (district.h1, district.h2):
        r = await api.post(f"/api/v1/helpers/{helper}/duty", json={"on_duty": False})
        assert r.json()["on_duty"] is False
    r = await api.post("/api/v1/incidents", json={"elder_id": district.e1, "summary": "陪诊"})
    assert r.json()["offers"] == [] and r.json()["sla_code"] == "no_candidate"
    await api.post(f"/api/v1/helpers/{district.h3}/duty", json={"on_duty": True})
    await api.put(f"/api/v1/helpers/{district.h3}/location", json={"lat": 23.371, "lon": 116.701})
    helpers = {h["id"]: h for h in (await api.get("/api/v1/helpers")).json()}
    assert helpers[district.h3]["on_duty"] and helpers[district.h3]["lat"] == 23.371


async def test_csv_import_is_idempotent_and_explains_bad_rows(
    api: httpx.AsyncClient, district: District
) -> None:
    """Re-importing updates rows by reference; a bad row is refused with its line number."""
    csv = "device_id,elder_ref,model,report_interval_s\n860000000000009,E2,wristband,600\n"
    headers = {"content-type": "text/csv"}
    r = await api.post("/api/v1/import/devices", content=csv, headers=headers)
    assert r.json() == {"created": 1, "updated": 0}
    r = await api.post("/api/v1/import/devices", content=csv, headers=headers)
    assert r.json() == {"created": 0, "updated": 1}
    bad = "device_id,elder_ref,model\n860000000000010,E2,watch\n"
    r = await api.post("/api/v1/import/devices", content=bad, headers=headers)
    assert r.status_code == 422 and "line 2" in r.json()["detail"]
    elder = (await api.get(f"/api/v1/elders/{district.e1}")).json()
    assert [c["relation"] for c in elder["contacts"]] == ["儿子", "女儿"]


async def test_readiness_follows_ingest(database: Database, clock: FakeClock) -> None:
    """/readyz is 503 while ingest is not subscribed, and /healthz stays 200."""
    ctx = AppContext(db=database, workflow=Workflow(database), clock=clock, ready=lambda: False)
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://huyuan") as client:
        assert (await client.get("/readyz")).status_code == 503
        assert (await client.get("/healthz")).status_code == 200


async def test_operator_assigns_withdraws_escalates_and_notes(
    api: httpx.AsyncClient, district: District
) -> None:
    """Operator actions: assign by hand, withdraw, escalate to 120, and a note on the record."""
    r = await api.post(
        "/api/v1/incidents",
        json={"elder_id": district.e1, "summary": "跌倒", "category": "emergency"},
    )
    iid = r.json()["id"]
    r = await api.post(f"/api/v1/incidents/{iid}/assign", json={"helper_id": district.h2})
    body = r.json()
    assert (body["state"], body["assigned_helper"]["id"]) == ("assigned", district.h2)
    assert [o["status"] for o in body["offers"]] == ["withdrawn", "accepted"]  # H1 taken back
    r = await api.post(f"/api/v1/incidents/{iid}/withdraw", json={"reason": "电动车没电"})
    body = r.json()
    assert body["state"] == "offered" and body["offers"][-1]["helper_id"] == district.h1
    r = await api.post(
        f"/api/v1/incidents/{iid}/escalate",
        json={"level": "emergency_services", "note": "老人无应答"},
    )
    assert r.json()["escalation_level"] == 3
    r = await api.post(f"/api/v1/incidents/{iid}/escalate", json={"level": "supervisor"})
    assert r.status_code == 409
    r = await api.post(f"/api/v1/incidents/{iid}/notes", json={"text": "已致电儿子"})
    assert r.json()["timeline"][-1]["detail"] == {"text": "已致电儿子"}


async def test_api_tokens_when_configured_are_required(
    database: Database, clock: FakeClock
) -> None:
    """With tokens set, a call without a valid bearer token is 401; with one it goes through."""
    ctx = AppContext(
        db=database,
        workflow=Workflow(database),
        clock=clock,
        ready=lambda: True,
        api_tokens=frozenset({"s3cret-token"}),
    )
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://huyuan") as client:
        assert (await client.get("/api/v1/helpers")).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert (await client.get("/api/v1/helpers", headers=wrong)).status_code == 401
        right = {"authorization": "Bearer s3cret-token"}
        assert (await client.get("/api/v1/helpers", headers=right)).status_code == 200
        assert (await client.get("/healthz")).status_code == 200  # probes need no token
