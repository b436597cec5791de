"""End to end, the helper's side by SMS: the real server process, a real MQTT broker and database,
the real twilio client sending to the local recording stand-in, and Twilio's webhooks posted to
the server signed with the twilio library for the public URL Twilio would call.
"""

from __future__ import annotations

import re
import signal
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.support.twilio_server import TwilioServer
from tests.test_end_to_end import (  # noqa: F401 - run and database_url are fixtures
    Run,
    database_url,
    device_link,
    eventually,
    get,
    load_district,
    next_ack,
    run,
    sos_payload,
)

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://huyuan.example.org"  # where Twilio would call; not where the server listens
AUTH_TOKEN = "secret-token"  # the run's TWILIO_AUTH_TOKEN
H1, H2, SON = "+8613700000001", "+8613700000002", "+8613900000001"
ACCOUNT = "AC" + "0" * 32


async def twilio_posts(
    r: Run, path: str, params: dict[str, str], token: str = AUTH_TOKEN
) -> httpx.Response:
    """A webhook as Twilio sends it: form-encoded, signed for the public URL."""
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, params)
    async with httpx.AsyncClient(base_url=r.api) as http:
        return await http.post(path, data=params, headers={"X-Twilio-Signature": signature})


async def helper_texts(r: Run, body: str, sid: str, token: str = AUTH_TOKEN) -> httpx.Response:
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT,
        "From": H1,
        "To": "+8675400000000",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    return await twilio_posts(r, "/hooks/twilio/sms", params, token)


def twiml_text(resp: httpx.Response) -> str:
    assert resp.status_code == 200, resp.text
    match = re.search(r"<Message>(.*)</Message>", resp.text, re.S)
    assert match, resp.text
    return match[1]


def texts_to(twilio: TwilioServer, phone: str) -> list[str]:
    return [q.form.get("Body", "") for q in twilio.requests if q.form.get("To") == phone]


async def sos_to_offer(r: Run, twilio: TwilioServer) -> tuple[int, str]:
    """An SOS from E1's wristband; the incident, and the code from H1's offer SMS."""
    async with device_link(r) as (mqtt, acks):
        await mqtt.publish(
            f"hyt/v1/d/{r.devices[0]}/evt/sos", sos_payload(r.devices[0], "s1"), qos=1
        )
        ack = await next_ack(acks, "s1")
    assert ack["result"] == "accepted"

    async def offer_sms() -> str | None:
        bodies = texts_to(twilio, H1)
        return bodies[0] if bodies else None

    body = await eventually(offer_sms)
    match = re.search(r"回复1 (\d{6})接单", body)
    assert match, body  # the offer says how to answer, now that the answer is received
    return int(ack["incident_id"]), match[1]


def actions(incident: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["actor"], e["action"]) for e in incident["timeline"]]


async def test_a_helper_runs_the_case_by_sms_and_the_family_hears_each_step(
    run: Run,  # noqa: F811 - the fixture imported above
    twilio_server: TwilioServer,
) -> None:
    """SOS → offer SMS → signed "1 <code>" → assigned → "3 <code>" → on scene → "4 <code>" →
    resolved, the family told at each step; a forged signature is refused and changes nothing;
    the same MessageSid twice changes once."""
    run.env["HUYUAN_PUBLIC_URL"] = PUBLIC_URL
    run.start()
    await run.wait_ready()
    await load_district(run)
    h1 = next(h["id"] for h in await get(run, "/api/v1/helpers") if h["phone"] == H1)
    iid, code = await sos_to_offer(run, twilio_server)

    before = await get(run, f"/api/v1/incidents/{iid}")
    forged = await helper_texts(run, f"1 {code}", "SM" + "f" * 32, token="not-the-token")
    assert forged.status_code == 403
    assert await get(run, f"/api/v1/incidents/{iid}") == before

    accepted = twiml_text(await helper_texts(run, f"1 {code}", "SM" + "1" * 32))
    assert accepted.startswith(f"已接单#{iid}")
    incident = await get(run, f"/api/v1/incidents/{iid}")
    assert (incident["state"], incident["assigned_helper"]["id"]) == ("assigned", h1)
    retry = twiml_text(await helper_texts(run, f"1 {code}", "SM" + "1" * 32))
    assert retry == accepted
    assert await get(run, f"/api/v1/incidents/{iid}") == incident  # one change, not two

    twiml_text(await helper_texts(run, f"3 {code}", "SM" + "3" * 32))
    assert (await get(run, f"/api/v1/incidents/{iid}"))["state"] == "on_scene"
    closed = twiml_text(await helper_texts(run, f"4 {code}", "SM" + "4" * 32))
    assert closed.startswith(f"#{iid}已结案")
    incident = await get(run, f"/api/v1/incidents/{iid}")
    assert incident["state"] == "resolved"
    for step in ("accepted", "arrived", "resolved"):
        assert actions(incident).count((f"helper:{h1}", step)) == 1
    assert [e["detail"]["via"] for e in incident["timeline"] if "via" in e["detail"]] == ["sms"] * 3

    family_steps = ["family_received", "family_on_the_way", "family_arrived", "family_closed"]

    async def family_told() -> list[dict[str, Any]]:
        outbox = await get(run, f"/api/v1/outbox?incident_id={iid}")
        told = sorted((o for o in outbox if o["recipient"] == SON), key=lambda o: o["id"])
        return told if [o["status"] for o in told] == ["sent"] * len(family_steps) else []

    told = await eventually(family_told)
    assert [o["purpose"] for o in told] == family_steps
    # The outbox sends concurrently: the order they reach Twilio is not the order of the steps.
    texts = texts_to(twilio_server, SON)
    assert len(texts) == 4
    assert any("已收到" in t for t in texts)
    assert any("黄少卿" in t and "已出发" in t for t in texts)
    assert any("已于" in t and "到达" in t for t in texts)
    assert any("处理完毕" in t for t in texts)
    assert run.stop(signal.SIGTERM) == 0


async def test_an_offer_sms_twilio_could_not_deliver_moves_the_offer_on_at_once(
    run: Run,  # noqa: F811 - the fixture imported above
    twilio_server: TwilioServer,
) -> None:
    """A signed status callback "undelivered" for the offer SMS: the next helper is offered
    at once (the offer's own clock is ten minutes here), and the operators see who was missed."""
    run.env["HUYUAN_PUBLIC_URL"] = PUBLIC_URL
    run.env["HUYUAN_EMERGENCY_OFFER_TIMEOUT_S"] = "600"
    run.start()
    await run.wait_ready()
    await load_district(run)
    iid, _code = await sos_to_offer(run, twilio_server)

    async def offer_sid() -> str | None:
        outbox = await get(run, f"/api/v1/outbox?incident_id={iid}")
        sent = [o for o in outbox if o["purpose"] == "helper_offer" and o["status"] == "sent"]
        return str(sent[0]["provider_id"]) if sent else None

    sid = await eventually(offer_sid)
    params = {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": "undelivered",
        "SmsStatus": "undelivered",
        "ErrorCode": "30003",
        "AccountSid": ACCOUNT,
        "From": "+8675400000000",
        "To": H1,
        "ApiVersion": "2010-04-01",
    }
    resp = await twilio_posts(run, "/hooks/twilio/status", params)
    assert resp.status_code == 204, resp.text
    incident = await get(run, f"/api/v1/incidents/{iid}")
    assert [o["status"] for o in incident["offers"]] == ["expired", "pending"]
    (missed,) = [e for e in incident["timeline"] if e["action"] == "notification_failed"]
    assert missed["detail"]["recipient"] == H1

    async def offered_to_h2() -> bool:
        return bool(texts_to(twilio_server, H2))

    await eventually(offered_to_h2)  # and H2 got the offer SMS
    assert run.stop(signal.SIGTERM) == 0
