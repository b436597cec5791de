"""The incident repository: every query the workflow, the applier and the console share.

The core works on ``IncidentState`` values; this module reads them from rows and writes them
back, writes the rows an effect stands for, and answers the one candidate query (who is free to
send) that dispatch and the console both use, so the console never ranks a helper dispatch
would skip.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dispatcher.core import CreateOffer, IncidentState, OfferStatus, OfferView, TimerKind
from dispatcher.errors import NotFound
from dispatcher.matching import (
    HelperPosition,
    MatchingPolicy,
    RankedHelper,
    TravelMode,
    bounding_box,
    rank,
    search_radius_m,
)
from dispatcher.store.database import Database
from dispatcher.store.models import (
    Elder,
    Helper,
    Incident,
    Offer,
    OutboxMessage,
    TimelineEntry,
    Timer,
)
from sla import OPEN_STATES, Category, Level, SlaStatus, State

__all__ = [
    "OPEN_STATE_VALUES",
    "IncidentRepository",
    "due_timers_query",
    "open_incidents_query",
]

OPEN_STATE_VALUES = sorted(s.value for s in OPEN_STATES)

# Incident columns that mirror an IncidentState field of the same name, as stored.
_PLAIN_FIELDS = (
    "kind",
    "summary",
    "elder_id",
    "device_id",
    "lat",
    "lon",
    "unregistered",
    "late",
    "cancel_requested",
    "created_at",
    "deadline",
    "assigned_helper_id",
    "accepted_at",
    "eta_at",
    "arrived_at",
    "closed_at",
    "outcome",
    "has_candidates",
    "sla_code",
    "sla_reason",
)


class IncidentRepository:
    """Reads and writes incidents, offers, timers, timeline and outbox rows in a transaction."""

    def __init__(self, db: Database, matching: MatchingPolicy) -> None:
        self.db = db
        self.matching = matching

    # ---- incidents ------------------------------------------------------------------------

    async def get(self, s: AsyncSession, incident_id: int, *, lock: bool = False) -> Incident:
        stmt = select(Incident).where(Incident.id == incident_id)
        if lock and not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        incident = (await s.execute(stmt)).scalar_one_or_none()
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return incident

    async def find(self, s: AsyncSession, incident_id: int) -> Incident | None:
        return await s.get(Incident, incident_id)

    async def find_open(
        self, s: AsyncSession, *, elder_id: int | None, device_id: str | None
    ) -> Incident | None:
        """The elder's open incident (or, for an unregistered device, the device's)."""
        cond = (
            Incident.elder_id == elder_id
            if elder_id is not None
            else Incident.device_id == device_id
        )
        stmt = (
            select(Incident)
            .where(cond, Incident.state.in_(OPEN_STATE_VALUES), Incident.kind != "request")
            .order_by(Incident.created_at)
            .limit(1)
        )
        return (await s.execute(stmt)).scalar_one_or_none()

    async def state_of(self, s: AsyncSession, row: Incident) -> IncidentState:
        offers = (
            await s.execute(select(Offer).where(Offer.incident_id == row.id).order_by(Offer.id))
        ).scalars()
        return IncidentState(
            id=row.id,
            category=Category(row.category),
            state=State(row.state),
            sla_status=SlaStatus(row.sla_status),
            escalation_level=Level(row.escalation_level),
            offers=tuple(
                OfferView(o.id, o.helper_id, OfferStatus(o.status), o.eta_s, o.expires_at)
                for o in offers
            ),
            **{name: getattr(row, name) for name in _PLAIN_FIELDS},
        )

    async def insert(self, s: AsyncSession, state: IncidentState, now: datetime) -> Incident:
        row = Incident(category=state.category.value, updated_at=now)
        self.write(row, state, now)
        s.add(row)
        await s.flush()
        return row

    def write(self, row: Incident, state: IncidentState, now: datetime) -> None:
        """Copy the state's fields onto the row (only what changed is sent to the database)."""
        for name in _PLAIN_FIELDS:
            value = getattr(state, name)
            if getattr(row, name, None) != value:
                setattr(row, name, value)
        row.state = state.state.value
        row.sla_status = state.sla_status.value
        row.escalation_level = int(state.escalation_level)
        row.updated_at = now

    # ---- offers and helpers ---------------------------------------------------------------

    async def create_offer(
        self, s: AsyncSession, incident_id: int, effect: CreateOffer, now: datetime
    ) -> Offer:
        offer = Offer(
            incident_id=incident_id,
            helper_id=effect.helper_id,
            offered_at=now,
            expires_at=effect.expires_at,
            status=(OfferStatus.ACCEPTED if effect.manual else OfferStatus.PENDING).value,
            responded_at=now if effect.manual else None,
            distance_m=effect.distance_m,
            eta_s=effect.eta_s,
            # Six digits a helper can type: three from the incident, three random, so two open
            # offers to one helper never share a code.
            accept_code=(
                "manual"
                if effect.manual
                else f"{incident_id % 1000:03d}{secrets.randbelow(1000):03d}"
            ),
        )
        s.add(offer)
        await s.flush()
        return offer

    async def set_offer_status(
        self, s: AsyncSession, offer_id: int, status: OfferStatus, now: datetime
    ) -> None:
        await s.execute(
            update(Offer)
            .where(Offer.id == offer_id)
            .values(status=status.value, responded_at=now)
            .execution_options(synchronize_session="fetch")
        )

    async def offer(self, s: AsyncSession, offer_id: int) -> Offer | None:
        return await s.get(Offer, offer_id)

    async def reserve_helper(self, s: AsyncSession, helper_id: int, incident_id: int) -> None:
        await s.execute(
            update(Helper)
            .where(Helper.id == helper_id)
            .values(active_incident_id=incident_id)
            .execution_options(synchronize_session="fetch")
        )

    async def release_helper(self, s: AsyncSession, helper_id: int, incident_id: int) -> None:
        """Free the helper if this incident still holds them (another may have taken them)."""
        await s.execute(
            update(Helper)
            .where(Helper.id == helper_id, Helper.active_incident_id == incident_id)
            .values(active_incident_id=None)
            .execution_options(synchronize_session="fetch")
        )

    async def helper(self, s: AsyncSession, helper_id: int) -> Helper | None:
        return await s.get(Helper, helper_id)

    async def elder(self, s: AsyncSession, elder_id: int | None) -> Elder | None:
        return await s.get(Elder, elder_id) if elder_id is not None else None

    async def helper_names(self, s: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await s.execute(select(Helper.id, Helper.name).where(Helper.id.in_(set(ids))))
        return {hid: name for hid, name in rows}

    # ---- candidates -----------------------------------------------------------------------

    async def candidates(
        self, s: AsyncSession, state: IncidentState, now: datetime, *, claim: bool = True
    ) -> list[RankedHelper]:
        """Free, on-duty helpers with a fresh position, best first, not already asked.

        With ``claim`` the best one still free is row-locked (another server process may be
        offering it at the same moment) and returned alone; without, the full ranking (what
        the console shows), from the same query.
        """
        origin = state.origin
        if origin is None:
            return []
        excluded = state.not_to_ask
        ranked = await self._rank_nearby(s, origin, state.deadline - now, state, now, excluded)
        if ranked and not ranked[0].can_make_deadline:
            # Someone outside the first box may still beat the best late helper: widen to the
            # distance the fastest mode covers in that helper's ETA (see matching).
            ranked = await self._rank_nearby(s, origin, ranked[0].eta, state, now, excluded)
        if not ranked:  # nobody nearby: a far helper is still better than none
            ranked = await self._rank_nearby(s, origin, None, state, now, excluded)
        if not claim:
            return ranked
        for candidate in ranked:
            stmt = select(Helper.id).where(
                Helper.id == candidate.helper_id,
                Helper.on_duty.is_(True),
                Helper.active_incident_id.is_(None),
            )
            if (await s.execute(self.db.lock_rows(stmt))).scalar() is not None:
                return [candidate]
        return []

    async def _rank_nearby(
        self,
        s: AsyncSession,
        origin: tuple[float, float],
        within: timedelta | None,
        state: IncidentState,
        now: datetime,
        excluded: frozenset[int],
    ) -> list[RankedHelper]:
        policy = self.matching
        stmt = select(
            Helper.id, Helper.lat, Helper.lon, Helper.travel_mode, Helper.located_at
        ).where(
            Helper.on_duty.is_(True),
            Helper.active_incident_id.is_(None),
            Helper.lat.is_not(None),
            Helper.lon.is_not(None),
            Helper.located_at >= now - policy.location_max_age,
        )
        if within is not None:
            min_lat, min_lon, max_lat, max_lon = bounding_box(
                origin, search_radius_m(within, policy)
            )
            stmt = stmt.where(
                Helper.lat.between(min_lat, max_lat), Helper.lon.between(min_lon, max_lon)
            )
        if excluded:
            stmt = stmt.where(Helper.id.not_in(excluded))
        positions = [
            HelperPosition(hid, lat, lon, TravelMode(mode), at)
            for hid, lat, lon, mode, at in await s.execute(stmt)
            if lat is not None and lon is not None and at is not None
        ]
        return rank(origin, positions, now=now, deadline=state.deadline, policy=policy)

    def eta_of(self, helper: Helper, state: IncidentState, now: datetime) -> timedelta | None:
        """The helper's ETA to the incident from their last position; None if unknown/stale."""
        origin = state.origin
        if origin is None or helper.lat is None or helper.lon is None or not helper.located_at:
            return None
        position = HelperPosition(
            helper.id, helper.lat, helper.lon, TravelMode(helper.travel_mode), helper.located_at
        )
        ranked = rank(origin, [position], now=now, deadline=state.deadline, policy=self.matching)
        return ranked[0].eta if ranked else None

    # ---- timers, timeline, outbox ---------------------------------------------------------

    def arm_timer(
        self,
        s: AsyncSession,
        incident_id: int,
        kind: TimerKind,
        due_at: datetime,
        ref: int | None = None,
    ) -> None:
        s.add(Timer(incident_id=incident_id, kind=kind.value, due_at=due_at, ref=ref))

    async def due_dispatch_timers(
        self, s: AsyncSession, incident_id: int, now: datetime
    ) -> Sequence[Timer]:
        stmt = select(Timer).where(
            Timer.incident_id == incident_id,
            Timer.kind == TimerKind.RETRY_DISPATCH.value,
            Timer.fired_at.is_(None),
            Timer.due_at <= now,
        )
        return (await s.execute(self.db.lock_rows(stmt))).scalars().all()

    def record(
        self,
        s: AsyncSession,
        incident_id: int,
        now: datetime,
        actor: str,
        action: str,
        params: Mapping[str, Any],
    ) -> None:
        """Append to the incident's timeline (rows are never updated or deleted)."""
        s.add(
            TimelineEntry(
                incident_id=incident_id,
                at=now,
                actor=actor[:100],
                action=action,
                detail={k: _jsonable(v) for k, v in params.items() if v is not None},
            )
        )

    def queue_message(
        self,
        s: AsyncSession,
        incident_id: int | None,
        now: datetime,
        *,
        channel: str,
        purpose: str,
        recipient: str,
        body: str,
    ) -> None:
        s.add(
            OutboxMessage(
                incident_id=incident_id,
                channel=channel,
                purpose=purpose[:24],
                recipient=recipient,
                body=body,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def open_incidents_query() -> Select[Incident]:
    """Open incidents, most urgent deadline first (the operators' queue)."""
    return select(Incident).where(Incident.state.in_(OPEN_STATE_VALUES)).order_by(Incident.deadline)


def due_timers_query(now: datetime, limit: int) -> Select[Timer]:
    return (
        select(Timer)
        .where(and_(Timer.fired_at.is_(None), Timer.due_at <= now))
        .order_by(Timer.due_at)
        .limit(limit)
    )
