"""Twilio's webhooks in the store: inbound SMS handled once per MessageSid, delivery statuses.

Twilio retries a webhook it got no answer to, so an inbound SMS is handled in one transaction
with a row keyed by its ``MessageSid``: the row is inserted first (a concurrent retry waits on
that key, then fails and reads the reply the first one stored), the helper's command runs, and
the reply is kept on the row. A retry changes nothing and gets the same reply.

Also here: finding a helper by the ``From`` number, the offers and incidents an SMS may mean,
and the outbox row a status callback is about (by the provider's id, ``SM…``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Integer, String, Text, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from dispatcher.core import OfferStatus
from dispatcher.store import Session
from dispatcher.store.database import Database
from dispatcher.store.incidents import OPEN_STATE_VALUES
from dispatcher.store.models import Base, Helper, Incident, Offer, OutboxMessage
from dispatcher.text_safety import printable

__all__ = [
    "DELIVERY_FAILED",
    "SID_LENGTH",
    "CaseRef",
    "Delivery",
    "Handled",
    "InboundSms",
    "OfferRef",
    "SmsInbox",
    "normalise_phone",
]

SID_LENGTH = 64
_FROM_LENGTH = 64
_BODY_CHARS = 1600  # Twilio's own limit for one inbound message
_OUTCOME_LENGTH = 24

# Twilio's message statuses in the order they happen; a late callback never moves a row back
# (Twilio does not promise to call in order). Statuses not listed are not recorded.
_DELIVERY_RANK = {
    "accepted": 1,
    "scheduled": 1,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
DELIVERY_FAILED = frozenset({"undelivered", "failed"})
"""Statuses that mean the person did not get the message."""

# What people put in a phone number that is not part of it.
_PHONE_NOISE = (" ", "-", "(", ")", ".", "\u00a0", "\u3000")


class InboundSms(Base):
    """One inbound SMS, handled once: who sent it, what it did, and the reply it got."""

    __tablename__ = "sms_inbound"

    message_sid: Mapped[str] = mapped_column(String(SID_LENGTH), primary_key=True)
    received_at: Mapped[datetime]
    from_number: Mapped[str] = mapped_column(String(_FROM_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    helper_id: Mapped[int | None] = mapped_column(Integer)
    incident_id: Mapped[int | None] = mapped_column(Integer)
    # accepted | declined | arrived | resolved | already | too_late | help | unknown_sender …
    outcome: Mapped[str] = mapped_column(String(_OUTCOME_LENGTH))
    reply: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True)
class Handled:
    """What handling one SMS came to: the reply, and what it touched (for the record)."""

    reply: str
    outcome: str
    helper_id: int | None = None
    incident_id: int | None = None


@dataclass(frozen=True)
class OfferRef:
    """An offer as an SMS reply needs it."""

    id: int
    incident_id: int
    helper_id: int
    status: str
    code: str


@dataclass(frozen=True)
class CaseRef:
    """An incident as an SMS reply needs it."""

    id: int
    state: str
    assigned_helper_id: int | None


@dataclass(frozen=True)
class Delivery:
    """An outbox row whose delivery status a callback changed, and what it was before."""

    message: OutboxMessage
    previous: str | None

    @property
    def newly_failed(self) -> bool:
        """The message just turned out not to have reached its recipient."""
        status = self.message.delivery_status
        return status in DELIVERY_FAILED and self.previous not in DELIVERY_FAILED


def normalise_phone(number: str) -> str:
    """A number as compared: separators and spaces dropped, a leading ``00`` read as ``+``."""
    compact = number.strip()
    for noise in _PHONE_NOISE:
        compact = compact.replace(noise, "")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact


def _normalised_column(column: InstrumentedAttribute[str]) -> ColumnElement[str]:
    """``normalise_phone`` in SQL (``replace`` exists in SQLite and PostgreSQL alike)."""
    expr: ColumnElement[str] = column.expression
    for noise in _PHONE_NOISE:
        expr = func.replace(expr, noise, "")
    return expr


class SmsInbox:
    """Inbound SMS once per MessageSid, and the reads and writes Twilio's webhooks need."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def handle_once(
        self,
        *,
        message_sid: str,
        from_number: str,
        body: str,
        now: datetime,
        work: Callable[[Session], Awaitable[Handled]],
    ) -> str:
        """Run ``work`` in a transaction unless this MessageSid was handled; the reply either way.

        ``work`` runs in the same transaction as the row that marks the SMS handled, so either
        both commit or neither does (an error leaves the SMS for Twilio's retry).
        """
        try:
            async with self.db.session() as s:
                seen = await s.get(InboundSms, message_sid)
                if seen is not None:
                    return seen.reply
                row = InboundSms(
                    message_sid=message_sid,
                    received_at=now,
                    # As received, but never a character a column refuses (NUL on PostgreSQL).
                    from_number=printable(from_number, _FROM_LENGTH),
                    body=printable(body, _BODY_CHARS),
                    outcome="pending",
                    reply="",
                )
                s.add(row)
                await s.flush()  # a concurrent retry of the same SMS waits here, then fails
                handled = await work(s)
                row.reply = handled.reply
                row.outcome = handled.outcome[:_OUTCOME_LENGTH]
                row.helper_id, row.incident_id = handled.helper_id, handled.incident_id
                return handled.reply
        except IntegrityError:
            # The same MessageSid committed by another request meanwhile: answer as it did.
            async with self.db.read_session() as s:
                seen = await s.get(InboundSms, message_sid)
            if seen is None:
                raise
            return seen.reply

    async def record(self, message_sid: str) -> InboundSms | None:
        """The stored row of an inbound SMS, if it was handled."""
        async with self.db.read_session() as s:
            return await s.get(InboundSms, message_sid)

    # ---- who and what an SMS is about -----------------------------------------------------
    # Plain values read column by column, never ORM rows: the workflow locks the incident and
    # loads it itself, and a row loaded here first would hand it a stale copy.

    async def helpers_with_phone(self, s: Session, phone: str) -> list[int]:
        """Ids of helpers whose number is ``phone`` once both are normalised (normally one)."""
        wanted = normalise_phone(phone)
        if not wanted or not wanted.isprintable():  # no roster number holds a control character
            return []
        stmt = select(Helper.id).where(_normalised_column(Helper.phone) == wanted).limit(2)
        return list((await s.execute(stmt)).scalars())

    async def offer(self, s: Session, offer_id: int) -> OfferRef | None:
        rows = await self._offers(s, Offer.id == offer_id)
        return rows[0] if rows else None

    async def offers_with_code(self, s: Session, helper_id: int, code: str) -> list[OfferRef]:
        """The helper's offers with this answer code, newest first."""
        return await self._offers(s, Offer.helper_id == helper_id, Offer.accept_code == code)

    async def pending_offers(self, s: Session, helper_id: int) -> list[OfferRef]:
        """The helper's offers on open incidents still waiting for an answer (normally one)."""
        open_incidents = select(Incident.id).where(Incident.state.in_(OPEN_STATE_VALUES))
        return await self._offers(
            s,
            Offer.helper_id == helper_id,
            Offer.status == OfferStatus.PENDING.value,
            Offer.incident_id.in_(open_incidents),
        )

    async def accepted_offer(self, s: Session, incident_id: int, helper_id: int) -> OfferRef | None:
        """The helper's accepted offer on the incident (its code is what they answer with)."""
        rows = await self._offers(
            s,
            Offer.incident_id == incident_id,
            Offer.helper_id == helper_id,
            Offer.status == OfferStatus.ACCEPTED.value,
        )
        return rows[0] if rows else None

    async def _offers(self, s: Session, *where: ColumnElement[bool]) -> list[OfferRef]:
        stmt = (
            select(Offer.id, Offer.incident_id, Offer.helper_id, Offer.status, Offer.accept_code)
            .where(*where)
            .order_by(Offer.id.desc())
        )
        return [OfferRef(*row) for row in await s.execute(stmt)]

    async def case(self, s: Session, incident_id: int) -> CaseRef | None:
        rows = await self._cases(s, Incident.id == incident_id)
        return rows[0] if rows else None

    async def assigned_cases(self, s: Session, helper_id: int) -> list[CaseRef]:
        """Open incidents the helper is assigned to (normally at most one), newest first."""
        return await self._cases(
            s, Incident.assigned_helper_id == helper_id, Incident.state.in_(OPEN_STATE_VALUES)
        )

    async def _cases(self, s: Session, *where: ColumnElement[bool]) -> list[CaseRef]:
        stmt = (
            select(Incident.id, Incident.state, Incident.assigned_helper_id)
            .where(*where)
            .order_by(Incident.id.desc())
        )
        return [CaseRef(*row) for row in await s.execute(stmt)]

    @asynccontextmanager
    async def attempt(self, s: Session) -> AsyncIterator[None]:
        """A savepoint: a command refused inside it leaves nothing behind in ``s``."""
        async with s.begin_nested():
            yield

    # ---- delivery status callbacks --------------------------------------------------------

    async def record_delivery(
        self, s: Session, provider_id: str, status: str, error: str | None
    ) -> Delivery | None:
        """Set the delivery status of the outbox row Twilio calls ``provider_id``.

        None when no row has that id or the status is unknown, already known, or older than
        the one recorded (a callback that arrives late never moves the row back).
        """
        rank = _DELIVERY_RANK.get(status)
        if rank is None:
            return None
        stmt = select(OutboxMessage).where(OutboxMessage.provider_id == provider_id).limit(1)
        if not self.db.is_sqlite:  # two callbacks for one message: the second waits its turn
            stmt = stmt.with_for_update()
        row = (await s.execute(stmt)).scalar_one_or_none()
        if row is None:
            return None
        previous = row.delivery_status
        if previous is not None and _DELIVERY_RANK.get(previous, 0) >= rank:
            return None
        row.delivery_status = status
        if status in DELIVERY_FAILED:
            row.last_error = error
        return Delivery(row, previous)

    async def pending_offer_for(self, s: Session, message: OutboxMessage) -> int | None:
        """The pending offer an offer SMS was about: its incident's, to the number it went to."""
        if message.incident_id is None:
            return None
        stmt = (
            select(Offer.id)
            .join(Helper, Helper.id == Offer.helper_id)
            .where(
                Offer.incident_id == message.incident_id,
                Offer.status == OfferStatus.PENDING.value,
                _normalised_column(Helper.phone) == normalise_phone(message.recipient),
            )
            .order_by(Offer.id.desc())
            .limit(1)
        )
        return (await s.execute(stmt)).scalar_one_or_none()
