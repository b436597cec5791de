"""Twilio's webhooks: helpers answer offers by SMS, and Twilio says what it delivered.

``POST /hooks/twilio/sms``
    An SMS to our number (form-encoded, as Twilio sends it). The sender is the helper whose
    phone is ``From``; the text is read by ``dispatcher.sms_commands`` (``1 <code>`` accept,
    ``2`` decline, ``3`` arrived, ``4`` done, forgiving as people type) and acted on through the
    workflow as ``helper:<id>``, with a timeline note that it came by SMS. The answer is TwiML,
    Chinese then English. Handled once per ``MessageSid`` (Twilio retries): a retry gets the
    same answer and changes nothing.
``POST /hooks/twilio/status``
    A status callback for a message we sent: the outbox row (found by its ``SM…`` id) records
    queued/sent/delivered/undelivered/failed. An offer SMS that was not delivered moves that
    offer on at once instead of after its timeout, and the timeline says who was not reached.

Every request must carry a valid ``X-Twilio-Signature`` for ``HUYUAN_PUBLIC_URL`` + the path
(the URL Twilio called, not the one this process listens on), checked with the twilio library's
``RequestValidator`` and ``TWILIO_AUTH_TOKEN``: otherwise 403 and nothing changes. Closed by
default: without both settings the hooks answer 503 and log why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, HTTPException, Request, Response
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from dispatcher.errors import DispatchError
from dispatcher.sms_commands import CODE_LENGTH, SmsCommand, Verb, parse
from dispatcher.store import Session
from dispatcher.store.sms_inbox import SID_LENGTH, CaseRef, Handled, OfferRef, SmsInbox
from dispatcher.text_safety import printable
from dispatcher.web.context import AppContext
from sla import TERMINAL_STATES, State

__all__ = [
    "OFFER_ANSWER",
    "SMS_PATH",
    "STATUS_PATH",
    "inbound_configured",
    "router",
]

log = structlog.get_logger(__name__)

SMS_PATH = "/hooks/twilio/sms"
STATUS_PATH = "/hooks/twilio/status"
OFFER_ANSWER = "回复1 {code}接单"
"""How the offer SMS says to answer once these hooks are configured ({code}: the offer's).

Only the accept: with it, the worst-case offer still fits two SMS segments. A bare ``2``
declines, and any text the hooks cannot read is answered with the whole grammar."""
RESOLVED_BY_SMS = "服务人员确认已处理"
"""The outcome of a case a helper closes by SMS (the family's closing SMS quotes it)."""

_MAX_BODY_BYTES = 64 * 1024  # an SMS webhook is a few hundred bytes; 1600-character texts fit
_MAX_FIELDS = 200
_SIGNATURE = "X-Twilio-Signature"
_SID = re.compile(rf"[A-Za-z0-9]{{1,{SID_LENGTH}}}")  # SM… / MM…: 34 letters and digits
_TERMINAL = frozenset(s.value for s in TERMINAL_STATES)

router = APIRouter(prefix="/hooks/twilio", tags=["twilio webhooks"], include_in_schema=False)


def inbound_configured(auth_token: str | None, public_url: str | None) -> bool:
    """Whether Twilio's requests can be verified, so the hooks (and a reply by SMS) work."""
    return bool(auth_token) and bool(public_url)


# ---- verifying what Twilio sent ---------------------------------------------------------------


def _ctx(request: Request) -> AppContext:
    context: AppContext = request.app.state.ctx
    return context


async def _verified(request: Request, path: str) -> ImmutableMultiDict[str, str]:
    """The form Twilio posted, once its signature is checked; 503, 413 or 403 otherwise."""
    c = _ctx(request)
    token, public_url = c.twilio_auth_token, c.workflow.config.public_url
    if not token or not public_url:
        missing = [
            name
            for name, value in (("TWILIO_AUTH_TOKEN", token), ("HUYUAN_PUBLIC_URL", public_url))
            if not value
        ]
        log.warning("twilio_webhook_not_configured", path=path, missing=missing)
        raise HTTPException(503, f"Twilio webhooks are not configured: set {', '.join(missing)}")
    raw = await _body(request)
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        pairs = None  # not a form Twilio sends: it cannot carry a valid signature either
    params: ImmutableMultiDict[str, str] = ImmutableMultiDict(pairs or [])
    # The URL Twilio called: the public one, never the address this process listens on.
    url = public_url.rstrip("/") + path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get(_SIGNATURE, "")
    if (
        pairs is None
        or not signature
        or not RequestValidator(token).validate(url, params, signature)
    ):
        log.warning(
            "twilio_signature_refused",
            path=path,
            signed=bool(signature),
            client=request.client.host if request.client else None,
        )
        raise HTTPException(403, "invalid or missing X-Twilio-Signature")
    return params


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_BODY_BYTES:
        raise HTTPException(413, "request body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > _MAX_BODY_BYTES:
            raise HTTPException(413, "request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _twiml(text: str) -> Response:
    reply = MessagingResponse()
    reply.message(text)
    return Response(content=str(reply), media_type="application/xml")


# ---- inbound SMS ------------------------------------------------------------------------------


@router.post("/sms")
async def inbound_sms(request: Request) -> Response:
    """An SMS from a helper: act on it once per MessageSid; answer with TwiML."""
    params = await _verified(request, SMS_PATH)
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not _SID.fullmatch(sid):
        raise HTTPException(400, "MessageSid missing or not a Twilio id")
    c = _ctx(request)
    sms = _Sms(
        sid=sid,
        sender=params.get("From", ""),
        body=params.get("Body", ""),
        now=c.clock(),
    )
    inbox = SmsInbox(c.db)
    reply = await inbox.handle_once(
        message_sid=sms.sid,
        from_number=sms.sender,
        body=sms.body,
        now=sms.now,
        work=lambda s: _Handler(c, inbox, s, sms).handle(),
    )
    return _twiml(reply)


@dataclass(frozen=True)
class _Sms:
    sid: str
    sender: str
    body: str
    now: datetime


class _Handler:
    """One SMS, in the transaction that marks it handled."""

    def __init__(self, c: AppContext, inbox: SmsInbox, s: Session, sms: _Sms) -> None:
        self.c, self.inbox, self.s, self.sms = c, inbox, s, sms

    async def handle(self) -> Handled:
        handled = await self._handle()
        log.info(
            "twilio_sms_handled",
            message_sid=self.sms.sid,
            outcome=handled.outcome,
            helper_id=handled.helper_id,
            incident_id=handled.incident_id,
        )
        return handled

    async def _handle(self) -> Handled:
        helpers = await self.inbox.helpers_with_phone(self.s, self.sms.sender)
        if len(helpers) != 1:
            if helpers:
                log.warning("twilio_sms_sender_ambiguous", message_sid=self.sms.sid)
            return Handled(_UNKNOWN_SENDER, "unknown_sender")
        helper_id = helpers[0]
        command = parse(self.sms.body)
        if command is None:
            return Handled(_HELP, "help", helper_id)
        if command.verb in (Verb.ACCEPT, Verb.DECLINE):
            return await self.answer_offer(helper_id, command)
        return await self.report(helper_id, command)

    # ---- accept / decline ---------------------------------------------------------------

    async def answer_offer(self, helper_id: int, command: SmsCommand) -> Handled:
        if command.code is not None:
            offers = await self.inbox.offers_with_code(self.s, helper_id, command.code)
            if not offers:
                return Handled(_no_such_code(command.code), "unknown_code", helper_id)
            pending = [o for o in offers if o.status == "pending"]
            offer = pending[0] if pending else offers[0]
        else:
            pending = await self.inbox.pending_offers(self.s, helper_id)
            if len(pending) > 1:
                return Handled(_several(1), "ambiguous", helper_id)
            if not pending:
                return Handled(_NO_OFFER, "no_offer", helper_id)
            offer = pending[0]
        if offer.status != "pending":
            return await self.not_open(helper_id, offer, command.verb)
        wf, now, actor = self.c.workflow, self.sms.now, f"helper:{helper_id}"
        try:
            async with self.inbox.attempt(self.s):
                if command.verb == Verb.ACCEPT:
                    incident = await wf.accept(self.s, offer.incident_id, helper_id, now, actor)
                else:
                    incident = await wf.decline(self.s, offer.incident_id, helper_id, now, actor)
        except DispatchError as exc:  # an answer or a clock got there first
            log.info("twilio_sms_too_late", message_sid=self.sms.sid, reason=exc.message)
            fresh = await self.inbox.offer(self.s, offer.id)
            return await self.not_open(helper_id, fresh or offer, command.verb)
        self.note(incident_id=incident.id, helper_id=helper_id, verb=command.verb)
        if command.verb == Verb.ACCEPT:
            reply, outcome = _accepted(incident.id, offer.code), "accepted"
        else:
            reply, outcome = _declined(incident.id), "declined"
        return Handled(reply, outcome, helper_id, incident.id)

    async def not_open(self, helper_id: int, offer: OfferRef, verb: Verb) -> Handled:
        """Why an offer can no longer be answered, politely; nothing is changed."""
        case = await self.inbox.case(self.s, offer.incident_id)
        i = offer.incident_id
        mine = case is not None and case.assigned_helper_id == helper_id
        if offer.status == "accepted" and mine and case is not None and not _closed(case):
            if verb == Verb.ACCEPT:
                return Handled(_already_accepted(i), "already", helper_id, i)
            return Handled(_cannot_decline_accepted(i), "already", helper_id, i)
        if offer.status == "declined":
            return Handled(_already_declined(i), "already", helper_id, i)
        if case is None or _closed(case):
            return Handled(_closed_text(i), "too_late", helper_id, i)
        if case.assigned_helper_id not in (None, helper_id):
            return Handled(_taken(i), "too_late", helper_id, i)
        if offer.status in ("withdrawn", "released"):
            return Handled(_withdrawn(i), "too_late", helper_id, i)
        return Handled(_expired(i), "too_late", helper_id, i)

    # ---- arrived / done -----------------------------------------------------------------

    async def report(self, helper_id: int, command: SmsCommand) -> Handled:
        digit = 3 if command.verb == Verb.ARRIVED else 4
        if command.code is not None:
            offers = await self.inbox.offers_with_code(self.s, helper_id, command.code)
            if not offers:
                return Handled(_no_such_code(command.code), "unknown_code", helper_id)
            accepted = [o for o in offers if o.status == "accepted"]
            offer = accepted[0] if accepted else offers[0]
            if offer.status == "pending":
                return Handled(_accept_first(offer), "not_accepted", helper_id, offer.incident_id)
            if offer.status not in ("accepted", "released"):  # never theirs: expired, declined…
                return await self.not_open(helper_id, offer, command.verb)
            case = await self.inbox.case(self.s, offer.incident_id)
        else:
            cases = await self.inbox.assigned_cases(self.s, helper_id)
            if len(cases) > 1:
                return Handled(_several(digit), "ambiguous", helper_id)
            if not cases:
                return Handled(_NO_CASE, "no_case", helper_id)
            case = cases[0]
        if case is None:  # the offer's incident is gone: nothing to act on
            return Handled(_NO_CASE, "no_case", helper_id)
        return await self.act_on_case(helper_id, case, command.verb)

    async def act_on_case(self, helper_id: int, case: CaseRef, verb: Verb) -> Handled:
        i = case.id
        refused = await self.why_not(helper_id, case, verb)
        if refused is not None:
            return refused
        wf, now, actor = self.c.workflow, self.sms.now, f"helper:{helper_id}"
        try:
            async with self.inbox.attempt(self.s):
                if verb == Verb.ARRIVED:
                    incident = await wf.arrive(self.s, i, helper_id, now, actor)
                else:
                    incident = await wf.resolve(self.s, i, helper_id, now, actor, RESOLVED_BY_SMS)
        except DispatchError as exc:  # taken off or closed meanwhile
            log.info("twilio_sms_too_late", message_sid=self.sms.sid, reason=exc.message)
            fresh = await self.inbox.case(self.s, i)
            refused = await self.why_not(helper_id, fresh, verb) if fresh else None
            return refused or Handled(_UNABLE, "refused", helper_id, i)
        self.note(incident_id=incident.id, helper_id=helper_id, verb=verb)
        if verb == Verb.ARRIVED:
            code = await self.code_of(i, helper_id)
            return Handled(_arrived(i, code), "arrived", helper_id, i)
        return Handled(_resolved(i), "resolved", helper_id, i)

    async def why_not(self, helper_id: int, case: CaseRef, verb: Verb) -> Handled | None:
        """Why the helper cannot report this on the case now, politely; None if they can."""
        i = case.id
        if case.assigned_helper_id != helper_id:
            if _closed(case):
                return Handled(_closed_text(i), "too_late", helper_id, i)
            return Handled(_not_yours(i), "too_late", helper_id, i)
        if verb == Verb.ARRIVED and case.state == State.ON_SCENE.value:
            code = await self.code_of(i, helper_id)
            return Handled(_arrived(i, code), "already", helper_id, i)
        if verb == Verb.DONE and case.state == State.RESOLVED.value:
            return Handled(_resolved(i), "already", helper_id, i)
        if _closed(case):
            return Handled(_closed_text(i), "too_late", helper_id, i)
        if verb == Verb.DONE and case.state != State.ON_SCENE.value:
            code = await self.code_of(i, helper_id)
            return Handled(_arrive_first(i, code), "not_arrived", helper_id, i)
        return None

    async def code_of(self, incident_id: int, helper_id: int) -> str | None:
        """The code the helper answers this case with (none for an assignment by hand)."""
        offer = await self.inbox.accepted_offer(self.s, incident_id, helper_id)
        if offer is None or len(offer.code) != CODE_LENGTH or not offer.code.isdigit():
            return None
        return offer.code

    def note(self, *, incident_id: int, helper_id: int, verb: Verb) -> None:
        """The timeline says the helper's action came by SMS (the core records the action)."""
        self.c.workflow.incidents.record(
            self.s,
            incident_id,
            self.sms.now,
            f"helper:{helper_id}",
            "note",
            {
                "text": f"经短信{_VERB_ZH[verb]}（SMS: {verb.value}）",
                "via": "sms",
                "message_sid": self.sms.sid,
            },
        )


def _closed(case: CaseRef) -> bool:
    return case.state in _TERMINAL


# ---- delivery status callbacks -----------------------------------------------------------------


@router.post("/status", status_code=204)
async def message_status(request: Request) -> Response:
    """Twilio's status callback for a message we sent: record it; an undelivered offer moves on."""
    params = await _verified(request, STATUS_PATH)
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    if not _SID.fullmatch(sid) or not status:
        raise HTTPException(400, "MessageSid and MessageStatus are required")
    c = _ctx(request)
    inbox = SmsInbox(c.db)
    now = c.clock()
    async with c.db.session() as s:
        change = await inbox.record_delivery(s, sid, status, _delivery_error(status, params))
        if change is None:
            log.info("twilio_status_ignored", message_sid=sid, status=status)
            return Response(status_code=204)
        message = change.message
        log.info(
            "twilio_status",
            message_sid=sid,
            status=status,
            outbox_id=message.id,
            purpose=message.purpose,
        )
        if not change.newly_failed or message.incident_id is None:
            return Response(status_code=204)
        # Operators must know this person was NOT reached (as when sending itself fails).
        c.workflow.incidents.record(
            s,
            message.incident_id,
            now,
            "system",
            "notification_failed",
            {
                "outbox_id": message.id,
                "purpose": message.purpose,
                "recipient": message.recipient,
                "error": message.last_error,
            },
        )
        if message.purpose == "helper_offer":
            offer_id = await inbox.pending_offer_for(s, message)
            if offer_id is not None:
                try:
                    async with inbox.attempt(s):
                        await c.workflow.offer_undeliverable(s, offer_id, now)
                except DispatchError as exc:  # answered or moved on meanwhile
                    log.info("offer_undeliverable_moot", offer_id=offer_id, reason=exc.message)
                else:
                    log.info("offer_moved_on_undelivered", offer_id=offer_id, message_sid=sid)
    return Response(status_code=204)


def _delivery_error(status: str, params: Mapping[str, str]) -> str:
    code = printable(params.get("ErrorCode", ""), 16)
    return f"Twilio: {status}" + (f" (error {code})" if code else "")


# ---- what helpers read: Chinese first, then English, short ------------------------------------

_VERB_ZH = {Verb.ACCEPT: "接单", Verb.DECLINE: "拒单", Verb.ARRIVED: "报到达", Verb.DONE: "结案"}

_HELP = (
    "回复“1 编号”接单，“2 编号”拒绝，“3 编号”已到达，“4 编号”完成。"
    "Reply 1, 2, 3 or 4 and the code: accept, decline, arrived, done."
)
_UNKNOWN_SENDER = (
    "本号码未登记为服务人员，无法处理此短信。This number is not registered as a helper."
)
_NO_OFFER = "您目前没有待回复的派单。You have no offer waiting for an answer."
_NO_CASE = "您目前没有进行中的事件。You have no case in progress."
_UNABLE = (
    "暂时无法处理您的回复，请致电值班台。We could not act on your reply; please call the desk."
)


def _several(digit: int) -> str:
    return f"您有多个事件，请加上编号，如“{digit} 123456”。Several are open: add the code."


def _no_such_code(code: str) -> str:
    return f"没有找到编号{code}的派单，请核对。No offer has the code {code}."


def _accepted(i: int, code: str) -> str:
    return (
        f"已接单#{i}，请尽快前往。到达后回复3 {code}，完成后回复4 {code}。"
        f"Accepted #{i}: reply 3 {code} on arrival, 4 {code} when done."
    )


def _declined(i: int) -> str:
    return f"已拒绝#{i}，谢谢告知。Declined #{i}, thank you."


def _arrived(i: int, code: str | None) -> str:
    answer = f"4 {code}" if code else "4"
    return (
        f"已记录到达#{i}。完成后回复{answer}。Arrival at #{i} recorded; reply {answer} when done."
    )


def _resolved(i: int) -> str:
    return f"#{i}已结案，谢谢您的帮助！#{i} is closed, thank you!"


def _already_accepted(i: int) -> str:
    return f"您已接单#{i}，请尽快前往。You already accepted #{i}."


def _already_declined(i: int) -> str:
    return f"您已拒绝#{i}。You already declined #{i}."


def _cannot_decline_accepted(i: int) -> str:
    return (
        f"您已接单#{i}；如不能前往，请致电值班台。"
        f"You accepted #{i}; call the desk if you cannot go."
    )


def _accept_first(offer: OfferRef) -> str:
    return f"请先接单：回复1 {offer.code}。Accept #{offer.incident_id} first: reply 1 {offer.code}."


def _arrive_first(i: int, code: str | None) -> str:
    answer = f"3 {code}" if code else "3"
    return (
        f"请先报到达#{i}：回复{answer}，再回复4结案。"
        f"Report arrival at #{i} first: reply {answer}, then 4."
    )


def _expired(i: int) -> str:
    return f"抱歉，派单#{i}已超时失效，您无需前往。Sorry, offer #{i} has expired; no need to go."


def _taken(i: int) -> str:
    return (
        f"抱歉，#{i}已由其他服务人员接单，您无需前往。"
        f"Sorry, another helper took #{i}; no need to go."
    )


def _withdrawn(i: int) -> str:
    return f"派单#{i}已撤回，您无需前往。Offer #{i} was withdrawn; no need to go."


def _closed_text(i: int) -> str:
    return f"#{i}已结束，您无需前往。#{i} is closed; no need to go."


def _not_yours(i: int) -> str:
    return f"您已不再负责#{i}，请勿前往。You are no longer on #{i}; please do not go."
