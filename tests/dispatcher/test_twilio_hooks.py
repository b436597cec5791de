"""Twilio's webhooks in-process over a real database: helpers answer by SMS, Twilio reports.

Requests are signed the way Twilio signs them (the twilio library's ``RequestValidator``), for
the public URL Twilio would call, and sent to the app through httpx's ASGI transport.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
import unicodedata
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from twilio.request_validator import RequestValidator

from dispatcher.clock import FakeClock
from dispatcher.core import Purpose
from dispatcher.notifier.channels import SendResult
from dispatcher.notifier.messages import render
from dispatcher.notifier.outbox import OutboxLoop
from dispatcher.notifier.texts import sms_segments
from dispatcher.server import workflow_config
from dispatcher.settings import Settings
from dispatcher.sms_commands import _WORDS, Verb, parse
from dispatcher.store.database import Database
from dispatcher.store.models import Elder, Helper, Offer, OutboxMessage
from dispatcher.store.sms_inbox import InboundSms, normalise_phone
from dispatcher.timers import TimerLoop
from dispatcher.web.app import create_app
from dispatcher.web.context import AppContext
from dispatcher.web.twilio_hooks import OFFER_ANSWER, RESOLVED_BY_SMS, SMS_PATH, STATUS_PATH
from dispatcher.workflow import Workflow, WorkflowConfig
from sla import Category
from tests.dispatcher.district import T0, District, load
from tests.dispatcher.notifier.test_messages import WORST

PUBLIC_URL = "https://huyuan.example.org"
TOKEN = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
ACCOUNT = "AC" + "0" * 32
OUR_NUMBER = "+8675400000000"
H1_PHONE = "+8613700000001"
H2_PHONE = "+8613700000002"
SON = "+8613900000001"  # E1's first emergency contact
CODE_IN_OFFER = re.compile(r"回复1 (\d{6})接单")


class NumberedChannel:
    """An SMS channel that takes every message and names it SM<n>, as Twilio would."""

    name = "numbered"

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def send(self, to: str, body: str) -> SendResult:
        return SendResult(provider_id=f"SM{next(self._ids):032x}", detail="queued")

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass
class Hooks:
    """The app with Twilio's hooks configured, its database, clock and district."""

    http: httpx.AsyncClient
    db: Database
    clock: FakeClock
    district: District
    workflow: Workflow
    sids: itertools.count[int] = dataclasses.field(default_factory=lambda: itertools.count(1))

    def next_sid(self) -> str:
        return f"SM{next(self.sids):032d}"

    async def sms(
        self,
        body: str,
        *,
        sender: str = H1_PHONE,
        sid: str | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """An inbound SMS as Twilio posts it, signed unless ``signature`` says otherwise."""
        sid = sid or self.next_sid()
        params = {
            "ToCountry": "CN",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "FromCountry": "CN",
            "To": OUR_NUMBER,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT,
            "From": sender,
            "ApiVersion": "2010-04-01",
        }
        return await self.post(SMS_PATH, params, signature)

    async def status(self, sid: str, status: str, error_code: str | None = None) -> httpx.Response:
        """A status callback for a message we sent."""
        params = {
            "SmsSid": sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": H1_PHONE,
            "MessageSid": sid,
            "AccountSid": ACCOUNT,
            "From": OUR_NUMBER,
            "ApiVersion": "2010-04-01",
            **({"ErrorCode": error_code} if error_code else {}),
        }
        return await self.post(STATUS_PATH, params, None)

    async def post(
        self, path: str, params: Mapping[str, str], signature: str | None
    ) -> httpx.Response:
        if signature is None:
            signature = sign(PUBLIC_URL + path, params)
        headers = {"X-Twilio-Signature": signature} if signature else {}
        return await self.http.post(path, data=dict(params), headers=headers)

    async def sos(self) -> int:
        """An SOS from E1's wristband: offered at once to H1, 300 m away."""
        async with self.db.session() as s:
            elder = await s.get_one(Elder, self.district.e1)
            incident = await self.workflow.open_incident(
                s,
                now=self.clock(),
                category=Category.EMERGENCY,
                kind="sos",
                summary="SOS button pressed",
                elder=elder,
                device_id="860000000000001",
                lat=elder.home_lat,
                lon=elder.home_lon,
                actor="device:860000000000001",
                defer_dispatch=False,
            )
            return incident.id

    async def incident(self, incident_id: int) -> dict[str, Any]:
        r = await self.http.get(f"/api/v1/incidents/{incident_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def outbox(self, incident_id: int) -> list[dict[str, Any]]:
        r = await self.http.get(f"/api/v1/outbox?incident_id={incident_id}")
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()
        return sorted(rows, key=lambda o: int(o["id"]))  # oldest first

    async def offer_code(self, incident_id: int, phone: str = H1_PHONE) -> str:
        """The code, as the helper reads it in the offer SMS."""
        bodies = [
            o["body"]
            for o in await self.outbox(incident_id)
            if o["purpose"] == "helper_offer" and o["recipient"] == phone
        ]
        match = CODE_IN_OFFER.search(bodies[-1])
        assert match, bodies[-1]
        return match[1]

    async def api(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self.http.post(f"/api/v1{path}", json=body or {})
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    async def snapshot(self, incident_id: int) -> tuple[Any, ...]:
        """Everything an SMS could change about an incident (and the inbox)."""
        async with self.db.read_session() as s:
            inbound = (await s.execute(select(func.count()).select_from(InboundSms))).scalar()
        return (await self.incident(incident_id), await self.outbox(incident_id), inbound)


def sign(url: str, params: Mapping[str, str], token: str = TOKEN) -> str:
    signature: str = RequestValidator(token).compute_signature(url, params)
    return signature


def reply_of(r: httpx.Response) -> str:
    """The text of the TwiML <Message> a webhook answered."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    match = re.fullmatch(
        r'<\?xml version="1.0" encoding="UTF-8"\?><Response><Message>(.*)</Message></Response>',
        r.text,
        re.S,
    )
    assert match, r.text
    return match[1]


@pytest.fixture
async def hooks(database: Database) -> AsyncIterator[Hooks]:
    district = await load(database)
    clock = FakeClock(T0)
    workflow = Workflow(
        database,
        WorkflowConfig(
            public_url=PUBLIC_URL,
            offer_answer=OFFER_ANSWER,
            display_tz=ZoneInfo("Asia/Shanghai"),
        ),
    )
    ctx = AppContext(
        db=database, workflow=workflow, clock=clock, ready=lambda: True, twilio_auth_token=TOKEN
    )
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.5:8000") as http:
        yield Hooks(http, database, clock, district, workflow)


def timeline(incident: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(e["actor"], e["action"]) for e in incident["timeline"]]


def sms_notes(incident: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [e for e in incident["timeline"] if e["detail"].get("via") == "sms"]


def wide(text: str) -> str:
    """Full-width digits, as a Chinese keyboard types them."""
    return text.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})


# ---- every accepted form of the grammar ----------------------------------------------------

FORMS: dict[Verb, list[str]] = {
    Verb.ACCEPT: [
        "1 {code}",
        "1{code}",
        "１ {wide}",
        "1,{code}。",
        "  1\u3000{code} ",
        "接 {code}",
        "接单{code}",
        "是 {code}",
        "好的，{code}",
        "y {code}",
        "YES {code}",
        "ok {code}",
        "1",
        "１",
        "接单",
        "Yes!",
    ],
    Verb.DECLINE: [
        "2 {code}",
        "２{wide}",
        "2-{code}",
        "拒 {code}",
        "拒绝 {code}",
        "不 {code}",
        "不去{code}",
        "n {code}",
        "No {code}",
        "2",
        "拒绝。",
    ],
    Verb.ARRIVED: [
        "3 {code}",
        "3{code}",
        "３ {wide}",
        "到 {code}",
        "到达 {code}",
        "到了，{code}",
        "已到{code}",
        "3",
        "到了！",
    ],
    Verb.DONE: [
        "4 {code}",
        "4-{code}",
        "４ {wide}",
        "好 {code}",
        "完成{code}",
        "结束 {code}",
        "完 {code}",
        "DONE {code}",
        "4",
        "完成",
    ],
}


def test_the_forms_cover_every_word_and_digit_of_the_grammar() -> None:
    """Each verb's digit and every word in the grammar is tried below, with and without a code."""
    leading: dict[Verb, set[str]] = {verb: set() for verb in FORMS}
    for verb, forms in FORMS.items():
        for form in forms:
            text = form.format(code="123456", wide=wide("123456"))
            command = parse(text)
            assert command is not None and command.verb == verb, form
            folded = re.sub(r"[\s\W_]+", "", unicodedata.normalize("NFKC", text).casefold())
            leading[verb].add(folded.removesuffix("123456"))
    for word, verb in _WORDS:
        assert word in leading[verb], word
    for digit, verb in zip(
        "1234", (Verb.ACCEPT, Verb.DECLINE, Verb.ARRIVED, Verb.DONE), strict=True
    ):
        assert digit in leading[verb]
        assert any("{code}" in f for f in FORMS[verb]) and any("{" not in f for f in FORMS[verb])


async def answer(hooks: Hooks, form: str, incident_id: int) -> str:
    code = await hooks.offer_code(incident_id)
    return reply_of(await hooks.sms(form.format(code=code, wide=wide(code))))


async def stand_down(hooks: Hooks, incident_id: int) -> None:
    """Close the case so the next form starts from a free helper."""
    await hooks.api(f"/incidents/{incident_id}/false-alarm")
    hooks.clock.advance(timedelta(seconds=5))


@pytest.mark.parametrize("verb", [Verb.ACCEPT, Verb.DECLINE])
async def test_every_form_answers_an_offer(hooks: Hooks, verb: Verb) -> None:
    """Accept or decline, by digit or word, with or without the code, half or full width."""
    h1, h2 = hooks.district.h1, hooks.district.h2
    for form in FORMS[verb]:
        iid = await hooks.sos()
        reply = await answer(hooks, form, iid)
        incident = await hooks.incident(iid)
        if verb == Verb.ACCEPT:
            assert reply.startswith(f"已接单#{iid}，请尽快前往。"), (form, reply)
            assert (incident["state"], incident["assigned_helper"]["id"]) == ("assigned", h1)
            assert (f"helper:{h1}", "accepted") in timeline(incident), form
        else:
            assert reply == f"已拒绝#{iid}，谢谢告知。Declined #{iid}, thank you.", form
            assert [(o["helper_id"], o["status"]) for o in incident["offers"]] == [
                (h1, "declined"),
                (h2, "pending"),
            ], form
            assert (f"helper:{h1}", "declined") in timeline(incident), form
        (note,) = sms_notes(incident)
        assert note["actor"] == f"helper:{h1}" and note["detail"]["message_sid"].startswith("SM")
        await stand_down(hooks, iid)


@pytest.mark.parametrize("verb", [Verb.ARRIVED, Verb.DONE])
async def test_every_form_reports_arrival_and_closing(hooks: Hooks, verb: Verb) -> None:
    """Arrived or done, by digit or word, with or without the code, half or full width."""
    h1 = hooks.district.h1
    for form in FORMS[verb]:
        iid = await hooks.sos()
        code = await hooks.offer_code(iid)
        await hooks.api(f"/incidents/{iid}/accept", {"helper_id": h1})
        if verb == Verb.DONE:
            await hooks.api(f"/incidents/{iid}/arrived", {"helper_id": h1})
        reply = await answer(hooks, form, iid)
        incident = await hooks.incident(iid)
        if verb == Verb.ARRIVED:
            assert reply == (
                f"已记录到达#{iid}。完成后回复4 {code}。"
                f"Arrival at #{iid} recorded; reply 4 {code} when done."
            ), form
            assert incident["state"] == "on_scene", form
            assert (f"helper:{h1}", "arrived") in timeline(incident)
            await stand_down(hooks, iid)
        else:
            assert reply == f"#{iid}已结案，谢谢您的帮助！#{iid} is closed, thank you!", form
            assert (incident["state"], incident["outcome"]) == ("resolved", RESOLVED_BY_SMS)
            assert (f"helper:{h1}", "resolved") in timeline(incident)
        assert len(sms_notes(incident)) == 1, form


# ---- the loop, and what must not happen ----------------------------------------------------


async def test_a_helper_runs_the_whole_case_by_sms_and_the_family_hears_each_step(
    hooks: Hooks,
) -> None:
    """1 <code> → assigned, 3 <code> → on scene, 4 <code> → resolved; each step told to the son."""
    h1 = hooks.district.h1
    iid = await hooks.sos()
    code = await hooks.offer_code(iid)
    hooks.clock.advance(timedelta(seconds=20))
    reply = reply_of(await hooks.sms(f"1 {code}"))
    assert reply == (
        f"已接单#{iid}，请尽快前往。到达后回复3 {code}，完成后回复4 {code}。"
        f"Accepted #{iid}: reply 3 {code} on arrival, 4 {code} when done."
    )
    assert (await hooks.incident(iid))["assigned_helper"]["id"] == h1
    hooks.clock.advance(timedelta(minutes=6))
    reply_of(await hooks.sms(f"3 {code}"))
    assert (await hooks.incident(iid))["state"] == "on_scene"
    hooks.clock.advance(timedelta(minutes=20))
    reply_of(await hooks.sms(f"4 {code}"))
    incident = await hooks.incident(iid)
    assert (incident["state"], incident["sla_status"]) == ("resolved", "met")
    assert [e["detail"]["text"] for e in sms_notes(incident)] == [
        "经短信接单（SMS: accept）",
        "经短信报到达（SMS: arrived）",
        "经短信结案（SMS: done）",
    ]
    family = [o["purpose"] for o in await hooks.outbox(iid) if o["recipient"] == SON]
    assert family == ["family_received", "family_on_the_way", "family_arrived", "family_closed"]
    to_h1 = [o["purpose"] for o in await hooks.outbox(iid) if o["recipient"] == H1_PHONE]
    assert to_h1 == ["helper_offer"]  # closing it themselves, they are not told it was closed
    async with hooks.db.read_session() as s:
        helper = await s.get_one(Helper, h1)
    assert helper.active_incident_id is None


def _forged(params: Mapping[str, str]) -> str:
    return sign(PUBLIC_URL + SMS_PATH, params, token="not-the-auth-token")


@pytest.mark.parametrize(
    "how", ["missing", "another token", "the internal url", "another body", "garbage"]
)
async def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(
    hooks: Hooks, how: str
) -> None:
    """403 for any request Twilio did not sign for this body at the public URL; nothing moves."""
    iid = await hooks.sos()
    code = await hooks.offer_code(iid)
    before = await hooks.snapshot(iid)
    sid = hooks.next_sid()
    params = {"MessageSid": sid, "From": H1_PHONE, "To": OUR_NUMBER, "Body": f"1 {code}"}
    signature = {
        "missing": "",
        "another token": _forged(params),
        "the internal url": sign("http://10.0.0.5:8000" + SMS_PATH, params),
        "another body": sign(PUBLIC_URL + SMS_PATH, {**params, "Body": f"2 {code}"}),
        "garbage": "x" * 28,
    }[how]
    r = await hooks.post(SMS_PATH, params, signature)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await hooks.snapshot(iid) == before
    r = await hooks.post(STATUS_PATH, {"MessageSid": sid, "MessageStatus": "failed"}, signature)
    assert r.status_code == 403


async def test_the_same_message_sid_twice_changes_once_and_gets_the_same_reply(
    hooks: Hooks,
) -> None:
    """Twilio's retry (same MessageSid) is answered as the first time and changes nothing."""
    iid = await hooks.sos()
    code = await hooks.offer_code(iid)
    sid = hooks.next_sid()
    first = reply_of(await hooks.sms(f"1 {code}", sid=sid))
    after_first = await hooks.snapshot(iid)
    hooks.clock.advance(timedelta(seconds=30))
    again = reply_of(await hooks.sms(f"1 {code}", sid=sid))
    assert again == first and first.startswith("已接单")
    # Even with another text under the same sid (it cannot happen; the sid wins).
    assert reply_of(await hooks.sms(f"2 {code}", sid=sid)) == first
    assert await hooks.snapshot(iid) == after_first
    assert timeline(after_first[0]).count((f"helper:{hooks.district.h1}", "accepted")) == 1


async def test_concurrent_retries_of_one_sms_change_once(hooks: Hooks) -> None:
    """Retries racing each other: one acts, the others wait and answer with its reply."""
    iid = await hooks.sos()
    code = await hooks.offer_code(iid)
    sid = hooks.next_sid()
    replies = await asyncio.gather(*(hooks.sms(f"1 {code}", sid=sid) for _ in range(4)))
    assert len({reply_of(r) for r in replies}) == 1
    incident = await hooks.incident(iid)
    assert timeline(incident).count((f"helper:{hooks.district.h1}", "accepted")) == 1
    assert len(sms_notes(incident)) == 1


async def _expire(hooks: Hooks, iid: int) -> None:
    hooks.clock.advance(timedelta(seconds=61))
    await TimerLoop(hooks.db, hooks.workflow, hooks.clock).tick()


async def _assign_h2(hooks: Hooks, iid: int) -> None:
    await hooks.api(f"/incidents/{iid}/assign", {"helper_id": hooks.district.h2})


async def _false_alarm(hooks: Hooks, iid: int) -> None:
    await hooks.api(f"/incidents/{iid}/false-alarm")


async def _decline(hooks: Hooks, iid: int) -> None:
    await hooks.api(f"/incidents/{iid}/decline", {"helper_id": hooks.district.h1})


@pytest.mark.parametrize(
    ("what", "first", "text"),
    [
        ("expired", _expire, "抱歉，派单#{iid}已超时失效，您无需前往。"),
        ("taken", _assign_h2, "抱歉，#{iid}已由其他服务人员接单，您无需前往。"),
        ("closed", _false_alarm, "#{iid}已结束，您无需前往。"),
        ("declined", _decline, "您已拒绝#{iid}。"),
    ],
)
async def test_too_late_is_answered_politely_and_the_incident_is_untouched(
    hooks: Hooks, what: str, first: Any, text: str
) -> None:
    """An offer expired, taken by another or closed: a polite answer, nothing changes."""
    iid = await hooks.sos()
    code = await hooks.offer_code(iid)
    await first(hooks, iid)
    before = await hooks.snapshot(iid)
    reply = reply_of(await hooks.sms(f"1 {code}"))
    assert reply.startswith(text.format(iid=iid)), reply
    assert await hooks.snapshot(iid) != before  # only the inbox row …
    incident, outbox, _ = await hooks.snapshot(iid)
    assert (incident, outbox) == before[:2]  # … the incident and its messages are untouched


async def test_a_helper_taken_off_cannot_report_arrival(hooks: Hooks) -> None:
    """After an operator withdrew the helper, "3 <code>" is refused politely; nothing moves."""
    h1 = hooks.district.h1
    iid = await hooks.sos()
    code = await hooks.offer_code(iid)
    await hooks.api(f"/incidents/{iid}/accept", {"helper_id": h1})
    await hooks.api(f"/incidents/{iid}/withdraw", {"reason": "电动车没电"})
    before = await hooks.incident(iid)
    reply = reply_of(await hooks.sms(f"3 {code}"))
    assert reply.startswith(f"您已不再负责#{iid}，请勿前往。")
    assert await hooks.incident(iid) == before


async def test_arrival_on_an_offer_that_expired_is_answered_as_expired(hooks: Hooks) -> None:
    """Arrival reported on an offer that expired unanswered: it says so; nothing moves."""
    iid = await hooks.sos()
    code = await hooks.offer_code(iid)
    await _expire(hooks, iid)
    before = await hooks.incident(iid)
    reply = reply_of(await hooks.sms(f"3 {code}"))
    assert reply.startswith(f"抱歉，派单#{iid}已超时失效，您无需前往。")
    assert await hooks.incident(iid) == before


async def test_done_before_arrival_asks_for_the_arrival_first(hooks: Hooks) -> None:
    """Done while still travelling: the reply says to report arrival first; nothing moves."""
    iid = await hooks.sos()
    code = await hooks.offer_code(iid)
    reply_of(await hooks.sms(f"1 {code}"))
    before = await hooks.incident(iid)
    assert reply_of(await hooks.sms("4")).startswith(f"请先报到达#{iid}：回复3 {code}")
    assert await hooks.incident(iid) == before


async def test_an_unknown_sender_is_told_politely_and_nothing_changes(hooks: Hooks) -> None:
    """A number that is no helper's gets a polite TwiML answer, whatever it says."""
    iid = await hooks.sos()
    code = await hooks.offer_code(iid)
    before = await hooks.snapshot(iid)
    reply = reply_of(await hooks.sms(f"1 {code}", sender="+8613399999999"))
    assert (
        reply
        == "本号码未登记为服务人员，无法处理此短信。This number is not registered as a helper."
    )
    incident, outbox, _ = await hooks.snapshot(iid)
    assert (incident, outbox) == before[:2]


async def test_the_sender_is_found_whatever_spacing_the_roster_has(hooks: Hooks) -> None:
    """A roster number typed with spaces and dashes still matches Twilio's E.164 From."""
    async with hooks.db.session() as s:
        await s.execute(
            update(Helper).where(Helper.id == hooks.district.h1).values(phone="+86 137-0000 0001")
        )
    iid = await hooks.sos()
    reply = reply_of(await hooks.sms("1"))
    assert reply.startswith(f"已接单#{iid}")
    assert normalise_phone(" 0086 137 0000 0001 ") == H1_PHONE


async def test_a_bare_1_accepts_the_one_open_offer(hooks: Hooks) -> None:
    """A bare 1 is enough while the helper holds exactly one open offer."""
    iid = await hooks.sos()
    reply = reply_of(await hooks.sms("1"))
    assert reply.startswith(f"已接单#{iid}")
    assert (await hooks.incident(iid))["assigned_helper"]["id"] == hooks.district.h1


async def test_a_bare_verb_without_anything_open_gets_a_short_answer(hooks: Hooks) -> None:
    """A bare 1 with no offer, 3 with no case, a code nobody has: each is said, nothing moves."""
    assert (
        reply_of(await hooks.sms("1"))
        == "您目前没有待回复的派单。You have no offer waiting for an answer."
    )
    assert reply_of(await hooks.sms("3")) == "您目前没有进行中的事件。You have no case in progress."
    reply = reply_of(await hooks.sms("1 999999"))
    assert reply == "没有找到编号999999的派单，请核对。No offer has the code 999999."


async def test_a_bare_1_with_two_open_offers_asks_for_the_code(hooks: Hooks) -> None:
    """Two offers open at once (rare): "1" alone is ambiguous, so the code is asked for."""
    first, second = await hooks.sos(), await hooks.sos()
    # The second SOS went to H2 (H1 was busy); make it H1's too, as an operator's re-offer might.
    async with hooks.db.session() as s:
        await s.execute(
            update(Offer).where(Offer.incident_id == second).values(helper_id=hooks.district.h1)
        )
    reply = reply_of(await hooks.sms("1"))
    assert reply.startswith("您有多个事件，请加上编号，如“1 123456”。")
    assert {(await hooks.incident(i))["state"] for i in (first, second)} == {"offered"}


async def test_text_that_is_no_command_gets_the_help(hooks: Hooks) -> None:
    """Anything the grammar does not read is answered with the four commands."""
    reply = reply_of(await hooks.sms("hello, who is this?"))
    assert reply.startswith("回复“1 编号”接单，“2 编号”拒绝，“3 编号”已到达，“4 编号”完成。")


async def test_the_hooks_are_closed_until_configured(database: Database) -> None:
    """Without TWILIO_AUTH_TOKEN or HUYUAN_PUBLIC_URL the hooks answer 503, signed or not."""
    clock = FakeClock(T0)
    for token, public_url in ((None, PUBLIC_URL), (TOKEN, None)):
        workflow = Workflow(database, WorkflowConfig(public_url=public_url))
        ctx = AppContext(db=database, workflow=workflow, clock=clock, twilio_auth_token=token)
        transport = httpx.ASGITransport(app=create_app(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://huyuan") as http:
            for path in (SMS_PATH, STATUS_PATH):
                params = {"MessageSid": "SM1", "From": H1_PHONE, "Body": "1"}
                headers = {"X-Twilio-Signature": sign(PUBLIC_URL + path, params)}
                r = await http.post(path, data=params, headers=headers)
                assert r.status_code == 503
                assert "not configured" in r.json()["detail"]


def test_the_offer_says_how_to_answer_only_when_replies_can_be_verified() -> None:
    """The SMS promises a reply path only with both the auth token and the public URL set."""
    cases = {
        (TOKEN, PUBLIC_URL): OFFER_ANSWER,
        (TOKEN, None): None,
        (None, PUBLIC_URL): None,
    }
    for (token, public_url), expected in cases.items():
        config = Settings(twilio_auth_token=token, public_url=public_url)
        assert workflow_config(config).offer_answer == expected


def test_the_worst_offer_with_the_answer_still_fits_two_segments() -> None:
    """The longest offer SMS, with how to answer and a six-digit code, is two segments."""
    facts = dataclasses.replace(WORST, how_to_answer=OFFER_ANSWER.replace("{code}", "987654"))
    text = render(Purpose.HELPER_OFFER, facts)
    assert "回复1 987654接单" in text and sms_segments(text) <= 2


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.text(max_size=200), sender=st.just(H1_PHONE) | st.text(max_size=24))
async def test_no_signed_text_makes_the_sms_hook_fail(hooks: Hooks, body: str, sender: str) -> None:
    """Any text from any sender, signed: a TwiML answer (200), never an error."""
    reply_of(await hooks.sms(body, sender=sender))


# ---- delivery status callbacks --------------------------------------------------------------


async def send_outbox(hooks: Hooks) -> None:
    await OutboxLoop(hooks.db, {"sms": NumberedChannel()}, hooks.clock).tick()


async def outbox_row(hooks: Hooks, incident_id: int, purpose: str, recipient: str) -> OutboxMessage:
    async with hooks.db.read_session() as s:
        stmt = select(OutboxMessage).where(
            OutboxMessage.incident_id == incident_id,
            OutboxMessage.purpose == purpose,
            OutboxMessage.recipient == recipient,
        )
        return (await s.execute(stmt)).scalars().one()


async def test_status_callbacks_update_the_outbox_row_and_never_move_it_back(
    hooks: Hooks,
) -> None:
    """queued → delivered is recorded on the row Twilio names; a late "sent" changes nothing."""
    iid = await hooks.sos()
    await send_outbox(hooks)
    row = await outbox_row(hooks, iid, "family_received", SON)
    assert row.provider_id is not None and row.delivery_status is None
    for status in ("queued", "delivered", "sent"):
        r = await hooks.status(row.provider_id, status)
        assert r.status_code == 204
    row = await outbox_row(hooks, iid, "family_received", SON)
    assert (row.status, row.delivery_status) == ("sent", "delivered")
    r = await hooks.status("SM" + "f" * 32, "delivered")  # not ours: nothing to do
    assert r.status_code == 204


async def test_an_undelivered_offer_sms_moves_the_offer_on_at_once(hooks: Hooks) -> None:
    """The offer SMS undelivered: that offer expires now, the next helper is asked, and the
    timeline says who was not reached; the same callback again changes nothing more."""
    h1, h2 = hooks.district.h1, hooks.district.h2
    iid = await hooks.sos()
    await send_outbox(hooks)
    offer_sms = await outbox_row(hooks, iid, "helper_offer", H1_PHONE)
    assert offer_sms.provider_id is not None
    hooks.clock.advance(timedelta(seconds=5))  # long before the 60 s expiry
    for _ in range(2):
        r = await hooks.status(offer_sms.provider_id, "undelivered", "30003")
        assert r.status_code == 204
    incident = await hooks.incident(iid)
    assert [(o["helper_id"], o["status"]) for o in incident["offers"]] == [
        (h1, "expired"),
        (h2, "pending"),
    ]
    failed = [e for e in incident["timeline"] if e["action"] == "notification_failed"]
    assert len(failed) == 1
    assert failed[0]["detail"]["recipient"] == H1_PHONE
    assert failed[0]["detail"]["error"] == "Twilio: undelivered (error 30003)"
    assert timeline(incident).count(("system", "offer_expired")) == 1
    row = await outbox_row(hooks, iid, "helper_offer", H1_PHONE)
    assert (row.delivery_status, row.last_error) == (
        "undelivered",
        "Twilio: undelivered (error 30003)",
    )


async def test_a_failed_family_sms_is_on_the_timeline_and_moves_no_offer(hooks: Hooks) -> None:
    """A family SMS that failed is recorded for the operators; the helper's offer stays open."""
    iid = await hooks.sos()
    await send_outbox(hooks)
    family = await outbox_row(hooks, iid, "family_received", SON)
    assert family.provider_id is not None
    assert (await hooks.status(family.provider_id, "failed", "30006")).status_code == 204
    incident = await hooks.incident(iid)
    assert [o["status"] for o in incident["offers"]] == ["pending"]
    assert [
        e["detail"]["recipient"]
        for e in incident["timeline"]
        if e["action"] == "notification_failed"
    ] == [SON]


async def test_an_undelivered_offer_already_answered_stays_answered(hooks: Hooks) -> None:
    """The helper accepted before the failure report arrived: the acceptance stands."""
    iid = await hooks.sos()
    await send_outbox(hooks)
    offer_sms = await outbox_row(hooks, iid, "helper_offer", H1_PHONE)
    assert offer_sms.provider_id is not None
    reply_of(await hooks.sms("1"))
    assert (await hooks.status(offer_sms.provider_id, "failed")).status_code == 204
    incident = await hooks.incident(iid)
    assert (incident["state"], incident["offers"][0]["status"]) == ("assigned", "accepted")
