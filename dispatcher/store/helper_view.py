"""What the helper app shows one helper: their status, the offer waiting for them, the incident
they hold (with the elder's card), their history, and a change marker for the live stream.

Plain values, read column by column: the web layer never holds an ORM row, and the elder's
details are read only for the incident the helper is assigned to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from dispatcher.core import OfferStatus
from dispatcher.store import Session
from dispatcher.store.incidents import OPEN_STATE_VALUES
from dispatcher.store.models import Elder, EmergencyContact, Helper, Incident, Offer

__all__ = [
    "CaseCard",
    "ContactLine",
    "ElderCard",
    "HelperStatus",
    "HelperView",
    "HistoryRow",
    "OfferCard",
]


@dataclass(frozen=True)
class HelperStatus:
    id: int
    name: str
    phone: str
    travel_mode: str
    on_duty: bool
    lat: float | None
    lon: float | None
    located_at: datetime | None
    active_incident_id: int | None


@dataclass(frozen=True)
class OfferCard:
    """An offer before it is accepted: where and how urgent, not yet who."""

    offer_id: int
    incident_id: int
    category: str
    kind: str
    summary: str
    offered_at: datetime
    expires_at: datetime
    distance_m: float
    eta_s: int
    deadline: datetime
    community: str | None


@dataclass(frozen=True)
class ContactLine:
    name: str
    relation: str | None
    phone: str


@dataclass(frozen=True)
class ElderCard:
    name: str
    age: int | None
    gender: str | None
    phone: str | None
    address: str
    community: str | None
    medical_notes: str | None
    key_safe_note: str | None
    contacts: tuple[ContactLine, ...]


@dataclass(frozen=True)
class CaseCard:
    """The incident the helper holds, with the elder's card (only ever for that helper)."""

    incident_id: int
    category: str
    kind: str
    summary: str
    state: str
    deadline: datetime
    accepted_at: datetime | None
    eta_at: datetime | None
    arrived_at: datetime | None
    lat: float | None
    lon: float | None
    elder: ElderCard | None


@dataclass(frozen=True)
class HistoryRow:
    incident_id: int
    created_at: datetime
    category: str
    kind: str
    summary: str
    state: str
    offer_status: str
    arrived_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    mine: bool  # whether the helper was the one assigned at the end


class HelperView:
    """Reads for one helper's screens."""

    async def status(self, s: Session, helper_id: int) -> HelperStatus | None:
        row = (
            await s.execute(
                select(
                    Helper.id,
                    Helper.name,
                    Helper.phone,
                    Helper.travel_mode,
                    Helper.on_duty,
                    Helper.lat,
                    Helper.lon,
                    Helper.located_at,
                    Helper.active_incident_id,
                ).where(Helper.id == helper_id)
            )
        ).one_or_none()
        return HelperStatus(*row) if row is not None else None

    async def set_on_duty(self, s: Session, helper_id: int, on_duty: bool) -> None:
        helper = await s.get(Helper, helper_id)
        if helper is not None:
            helper.on_duty = on_duty

    async def pending_offer(self, s: Session, helper_id: int) -> OfferCard | None:
        """The newest offer on an open incident still waiting for this helper's answer."""
        stmt = (
            select(
                Offer.id,
                Offer.incident_id,
                Incident.category,
                Incident.kind,
                Incident.summary,
                Offer.offered_at,
                Offer.expires_at,
                Offer.distance_m,
                Offer.eta_s,
                Incident.deadline,
                Elder.community,
            )
            .join(Incident, Incident.id == Offer.incident_id)
            .outerjoin(Elder, Elder.id == Incident.elder_id)
            .where(
                Offer.helper_id == helper_id,
                Offer.status == OfferStatus.PENDING.value,
                Incident.state.in_(OPEN_STATE_VALUES),
            )
            .order_by(Offer.id.desc())
            .limit(1)
        )
        row = (await s.execute(stmt)).one_or_none()
        return OfferCard(*row) if row is not None else None

    async def offer_owner(self, s: Session, offer_id: int) -> tuple[int, int] | None:
        """(helper id, incident id) of an offer, or None if there is no such offer."""
        row = (
            await s.execute(select(Offer.helper_id, Offer.incident_id).where(Offer.id == offer_id))
        ).one_or_none()
        return (row[0], row[1]) if row is not None else None

    async def assigned_helper(self, s: Session, incident_id: int) -> tuple[bool, int | None]:
        """Whether the incident exists, and who holds it."""
        row = (
            await s.execute(select(Incident.assigned_helper_id).where(Incident.id == incident_id))
        ).one_or_none()
        return (False, None) if row is None else (True, row[0])

    async def case(self, s: Session, helper_id: int) -> CaseCard | None:
        """The open incident assigned to this helper, with the elder's card."""
        stmt = (
            select(Incident)
            .where(
                Incident.assigned_helper_id == helper_id,
                Incident.state.in_(OPEN_STATE_VALUES),
            )
            .order_by(Incident.id.desc())
            .limit(1)
        )
        incident = (await s.execute(stmt)).scalar_one_or_none()
        if incident is None:
            return None
        elder = await s.get(Elder, incident.elder_id) if incident.elder_id is not None else None
        card = None
        if elder is not None:
            contacts = (
                await s.execute(
                    select(EmergencyContact.name, EmergencyContact.relation, EmergencyContact.phone)
                    .where(EmergencyContact.elder_id == elder.id)
                    .order_by(EmergencyContact.priority)
                )
            ).all()
            card = ElderCard(
                elder.name,
                elder.age,
                elder.gender,
                elder.phone,
                elder.address,
                elder.community,
                elder.medical_notes,
                elder.key_safe_note,
                tuple(ContactLine(*c) for c in contacts),
            )
        lat = incident.lat if incident.lat is not None else (elder.home_lat if elder else None)
        lon = incident.lon if incident.lon is not None else (elder.home_lon if elder else None)
        return CaseCard(
            incident.id,
            incident.category,
            incident.kind,
            incident.summary,
            incident.state,
            incident.deadline,
            incident.accepted_at,
            incident.eta_at,
            incident.arrived_at,
            lat,
            lon,
            card,
        )

    async def history(self, s: Session, helper_id: int, limit: int = 50) -> list[HistoryRow]:
        """Incidents this helper accepted or was assigned, newest first."""
        answered = (OfferStatus.ACCEPTED.value, OfferStatus.RELEASED.value)
        offer_status = (
            select(func.max(Offer.status))
            .where(
                Offer.incident_id == Incident.id,
                Offer.helper_id == helper_id,
                Offer.status.in_(answered),
            )
            .scalar_subquery()
        )
        stmt = (
            select(
                Incident.id,
                Incident.created_at,
                Incident.category,
                Incident.kind,
                Incident.summary,
                Incident.state,
                offer_status,
                Incident.arrived_at,
                Incident.closed_at,
                Incident.outcome,
                Incident.assigned_helper_id == helper_id,
            )
            .where(
                or_(
                    Incident.assigned_helper_id == helper_id,
                    Incident.id.in_(
                        select(Offer.incident_id).where(
                            Offer.helper_id == helper_id, Offer.status.in_(answered)
                        )
                    ),
                )
            )
            .order_by(Incident.id.desc())
            .limit(limit)
        )
        return [
            HistoryRow(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6] or "assigned",
                r[7],
                r[8],
                r[9],
                bool(r[10]),
            )
            for r in await s.execute(stmt)
        ]

    async def marker(self, s: Session, helper_id: int) -> tuple[object, ...]:
        """Changes whenever anything this helper's screen shows may have changed."""
        helper = (
            await s.execute(
                select(Helper.on_duty, Helper.active_incident_id).where(Helper.id == helper_id)
            )
        ).one_or_none()
        offers = (
            await s.execute(
                select(func.count(Offer.id), func.max(Offer.id)).where(
                    Offer.helper_id == helper_id, Offer.status == OfferStatus.PENDING.value
                )
            )
        ).one()
        last_offer = await s.scalar(
            select(func.max(Offer.responded_at)).where(Offer.helper_id == helper_id)
        )
        case = (
            await s.execute(
                select(Incident.id, Incident.state, Incident.updated_at).where(
                    Incident.assigned_helper_id == helper_id,
                    Incident.state.in_(OPEN_STATE_VALUES),
                )
            )
        ).all()
        return (tuple(helper or ()), tuple(offers), last_offer, tuple(tuple(c) for c in case))
