"""The incident workflow: open an incident, offer it to the best helper, follow it to the end.

Decisions come from the pure cores — ``sla`` (lifecycle table, deadlines, assessment, escalation
ladder) and ``dispatcher.matching`` (who arrives first); this module applies them inside the
caller's transaction, appends to the timeline and queues notifications in the outbox. Every
method takes ``now`` so tests and the timer loop decide what time it is.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import structlog
from sqlalchemy import Select, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dispatcher.errors import Conflict, NotFound
from dispatcher.matching import (
    DEFAULT_POLICY,
    HelperPosition,
    MatchingPolicy,
    RankedHelper,
    TravelMode,
    bounding_box,
    decide,
    rank,
    search_radius_m,
)
from dispatcher.notifier.texts import escalation_sms, family_sms, helper_offer_sms
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
from sla import (
    DEFAULT_LADDER,
    OPEN_STATES,
    Category,
    EscalationStep,
    Event,
    InvalidTransition,
    Level,
    SlaPolicy,
    SlaStatus,
    State,
    assess,
    should_fire,
    steps_for,
    transition,
)

log = structlog.get_logger(__name__)

SYSTEM = "system"
OPEN_STATE_VALUES = sorted(s.value for s in OPEN_STATES)


@dataclass(frozen=True)
class WorkflowConfig:
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    matching: MatchingPolicy = DEFAULT_POLICY
    ladder: Sequence[EscalationStep] = DEFAULT_LADDER
    supervisor_phones: tuple[str, ...] = ()
    # With nobody free, look again this often: a helper may come on duty or finish a case.
    retry_dispatch_after: timedelta = timedelta(seconds=30)
    public_url: str | None = None
    # Operators and helpers read clock times in local time (the store keeps UTC).
    display_tz: tzinfo = UTC


class Workflow:
    """Applies the incident lifecycle to the store; one instance per server process."""

    def __init__(self, db: Database, config: WorkflowConfig | None = None) -> None:
        self.db = db
        self.config = config or WorkflowConfig()

    # ---- opening ---------------------------------------------------------------------------

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

    async def open_incident(
        self,
        s: AsyncSession,
        *,
        now: datetime,
        category: Category,
        kind: str,
        summary: str,
        elder: Elder | None,
        device_id: str | None,
        lat: float | None,
        lon: float | None,
        actor: str,
        unregistered: bool = False,
        late: bool = False,
        notify_family: bool = True,
        defer_dispatch: bool = False,
    ) -> Incident:
        """Create an incident with its deadline fixed now, its clocks, and a first offer."""
        incident = Incident(
            elder_id=elder.id if elder else None,
            device_id=device_id,
            category=category.value,
            kind=kind,
            summary=summary,
            state=State.OPEN.value,
            unregistered=unregistered,
            cancel_requested=False,
            late=late,
            lat=lat if lat is not None else (elder.home_lat if elder else None),
            lon=lon if lon is not None else (elder.home_lon if elder else None),
            created_at=now,
            deadline=self.config.sla.deadline(category, now),
            sla_status=SlaStatus.ON_TRACK.value,
            has_candidates=True,
            escalation_level=Level.NONE.value,
            updated_at=now,
        )
        s.add(incident)
        await s.flush()
        self.record(
            s,
            incident,
            now,
            actor,
            "created",
            category=category.value,
            kind=kind,
            summary=summary,
            deadline=incident.deadline.isoformat(),
            unregistered=unregistered,
            late=late,
        )
        self._timer(s, incident, "accept_check", self.config.sla.accept_check_at(category, now))
        self._timer(s, incident, "deadline", incident.deadline)
        log.info(
            "incident_opened",
            incident_id=incident.id,
            device_id=device_id,
            category=category.value,
            kind=kind,
            unregistered=unregistered,
        )
        if elder is not None and notify_family:
            for contact in elder.contacts:
                self._sms(
                    s,
                    incident,
                    now,
                    "family",
                    contact.phone,
                    family_sms(
                        elder_name=elder.name, summary=summary, helper_name=None, eta_minutes=None
                    ),
                )
        if incident.lat is None or incident.lon is None:
            incident.has_candidates = False
            self.record(
                s,
                incident,
                now,
                SYSTEM,
                "no_location",
                note="no position known: operators must locate the caller",
            )
            await self.refresh_sla(s, incident, now)
        elif defer_dispatch:
            # Committed and acknowledged first, dispatched right after by ``dispatch_due``; the
            # timer makes a crash in between harmless (it fires at once on restart).
            self._timer(s, incident, "retry_dispatch", now)
        else:
            await self.dispatch(s, incident, now)
        return incident

    async def join(
        self, s: AsyncSession, incident: Incident, now: datetime, actor: str, summary: str
    ) -> None:
        """A repeated press while an incident is open joins it instead of opening another."""
        self._apply(incident, Event.REPEAT_PRESS, now)
        self.record(s, incident, now, actor, "repeat_press", summary=summary)

    async def device_cancelled(
        self, s: AsyncSession, incident: Incident, now: datetime, actor: str
    ) -> None:
        """Flag for an operator to confirm; a cancel from a watch can be a charger unplugged."""
        self._apply(incident, Event.DEVICE_CANCEL, now)
        incident.cancel_requested = True
        self.record(
            s,
            incident,
            now,
            actor,
            "device_cancelled",
            note="device reported cancellation; operator confirmation needed",
        )

    # ---- dispatch --------------------------------------------------------------------------

    async def dispatch(self, s: AsyncSession, incident: Incident, now: datetime) -> Offer | None:
        """Offer the incident to the helper who arrives first; escalate when nobody can make it."""
        origin = _origin(incident)
        if origin is None:
            return None
        # Helpers who declined, let it expire or were taken off it are not asked again; an offer
        # withdrawn by an operator's override was no fault of the helper's.
        excluded = set(
            (
                await s.execute(
                    select(Offer.helper_id).where(
                        Offer.incident_id == incident.id, Offer.status != "withdrawn"
                    )
                )
            ).scalars()
        )
        ranked = await self._rank_nearby(
            s, origin, incident.deadline - now, incident, now, excluded
        )
        if ranked and not ranked[0].can_make_deadline:
            # Someone outside the first box may still beat the best late helper: widen to the
            # distance the fastest mode covers in that helper's ETA (helper-proof, see matching).
            ranked = await self._rank_nearby(s, origin, ranked[0].eta, incident, now, excluded)
        if not ranked:  # nobody nearby: a far helper is still better than none
            ranked = await self._rank_nearby(s, origin, None, incident, now, excluded)
        best = await self._claim_first(s, ranked)
        decision = decide([best] if best is not None else [])
        if decision.best is None:
            incident.has_candidates = False
            self.record(s, incident, now, SYSTEM, "no_candidate", reason=decision.reason)
            self._timer(s, incident, "retry_dispatch", now + self.config.retry_dispatch_after)
            log.warning("no_candidate", incident_id=incident.id)
            await self.refresh_sla(s, incident, now)
            return None
        offer = await self._make_offer(s, incident, decision.best, now)
        incident.has_candidates = True
        if decision.escalate:
            self.record(s, incident, now, SYSTEM, "cannot_make_deadline", reason=decision.reason)
        await self.refresh_sla(s, incident, now, eta=decision.best.arrives_at)
        return offer

    async def dispatch_due(self, s: AsyncSession, incident_id: int, now: datetime) -> None:
        """Run the incident's pending dispatch timer now, unless another process already has."""
        stmt = select(Timer).where(
            Timer.incident_id == incident_id,
            Timer.kind == "retry_dispatch",
            Timer.fired_at.is_(None),
            Timer.due_at <= now,
        )
        for timer in (await s.execute(self.db.lock_rows(stmt))).scalars().all():
            await self.fire(s, timer, now)

    async def _rank_nearby(
        self,
        s: AsyncSession,
        origin: tuple[float, float],
        within: timedelta | None,
        incident: Incident,
        now: datetime,
        excluded: set[int],
    ) -> list[RankedHelper]:
        """Free, on-duty helpers with a fresh position inside the box reachable ``within``."""
        policy = self.config.matching
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
            if lat is not None and lon is not None and at is not None  # the query ensures it
        ]
        return rank(origin, positions, now=now, deadline=incident.deadline, policy=policy)

    async def _claim_first(
        self, s: AsyncSession, ranked: Sequence[RankedHelper]
    ) -> RankedHelper | None:
        """Lock the best helper still free; another server process may have taken one first."""
        for candidate in ranked:
            stmt = select(Helper.id).where(
                Helper.id == candidate.helper_id,
                Helper.on_duty.is_(True),
                Helper.active_incident_id.is_(None),
            )
            if (await s.execute(self.db.lock_rows(stmt))).scalar() is not None:
                return candidate
        return None

    async def _make_offer(
        self, s: AsyncSession, incident: Incident, best: RankedHelper, now: datetime
    ) -> Offer:
        helper = await s.get_one(Helper, best.helper_id)
        category = Category(incident.category)
        offer = Offer(
            incident_id=incident.id,
            helper_id=helper.id,
            offered_at=now,
            expires_at=self.config.sla.offer_expires_at(category, now),
            status="pending",
            distance_m=best.distance_m,
            eta_s=int(best.eta.total_seconds()),
            accept_code=f"{incident.id % 1000:03d}{secrets.randbelow(1000):03d}",
        )
        s.add(offer)
        helper.active_incident_id = incident.id  # reserved while the offer is pending
        self._apply(incident, Event.OFFER, now)
        await s.flush()
        self._timer(s, incident, "offer_expiry", offer.expires_at, ref=offer.id)
        eta_min = max(1, round(best.eta.total_seconds() / 60))
        self.record(
            s,
            incident,
            now,
            SYSTEM,
            "offered",
            helper_id=helper.id,
            helper_name=helper.name,
            distance_m=round(best.distance_m),
            eta_min=eta_min,
            can_make_deadline=best.can_make_deadline,
            expires_at=offer.expires_at.isoformat(),
        )
        elder = await s.get(Elder, incident.elder_id) if incident.elder_id else None
        origin = _origin(incident)
        if origin is None:  # dispatch() never offers an incident without a position
            raise Conflict(f"incident {incident.id} has no position to send a helper to")
        accept_url = (
            f"{self.config.public_url.rstrip('/')}/api/v1/offers/{offer.accept_code}"
            if self.config.public_url
            else None
        )
        lat, lon = origin
        self._sms(
            s,
            incident,
            now,
            "helper_offer",
            helper.phone,
            helper_offer_sms(
                incident_id=incident.id,
                elder_name=elder.name if elder else "未登记设备 unregistered device",
                age=elder.age if elder else None,
                address=elder.address if elder else f"{lat:.5f}, {lon:.5f}",
                lat=lat,
                lon=lon,
                category=incident.category,
                summary=incident.summary,
                deadline=incident.deadline.astimezone(self.config.display_tz),
                eta_minutes=eta_min,
                accept_url=accept_url,
                accept_code=offer.accept_code,
            ),
        )
        log.info(
            "offered",
            incident_id=incident.id,
            helper_id=helper.id,
            offer_id=offer.id,
            eta_s=offer.eta_s,
        )
        return offer

    # ---- helper actions --------------------------------------------------------------------

    async def _pending_offer(self, s: AsyncSession, incident_id: int, helper_id: int) -> Offer:
        offer = (
            await s.execute(
                select(Offer).where(
                    Offer.incident_id == incident_id,
                    Offer.helper_id == helper_id,
                    Offer.status == "pending",
                )
            )
        ).scalar_one_or_none()
        if offer is None:
            raise Conflict(f"helper {helper_id} has no pending offer for incident {incident_id}")
        return offer

    async def accept(
        self, s: AsyncSession, incident_id: int, helper_id: int, now: datetime, actor: str
    ) -> Incident:
        incident = await self.get_incident(s, incident_id, lock=True)
        offer = await self._pending_offer(s, incident_id, helper_id)
        helper = await s.get_one(Helper, helper_id)
        self._apply(incident, Event.ACCEPT, now)
        offer.status, offer.responded_at = "accepted", now
        eta = self._eta_from(helper, incident, now, fallback_s=offer.eta_s)
        await self._helper_sets_off(s, incident, helper, eta, now, actor, "accepted")
        return incident

    async def decline(
        self, s: AsyncSession, incident_id: int, helper_id: int, now: datetime, actor: str
    ) -> Incident:
        incident = await self.get_incident(s, incident_id, lock=True)
        offer = await self._pending_offer(s, incident_id, helper_id)
        self._apply(incident, Event.DECLINE, now)
        offer.status, offer.responded_at = "declined", now
        await self._release_helper(s, helper_id, incident.id)
        self.record(s, incident, now, actor, "declined", helper_id=helper_id)
        await self.dispatch(s, incident, now)
        return incident

    async def arrive(
        self, s: AsyncSession, incident_id: int, helper_id: int, now: datetime, actor: str
    ) -> Incident:
        incident = await self.get_incident(s, incident_id, lock=True)
        self._require_assigned(incident, helper_id)
        self._apply(incident, Event.ARRIVE, now)
        incident.arrived_at = now
        minutes = (now - incident.created_at).total_seconds() / 60
        self.record(
            s,
            incident,
            now,
            actor,
            "arrived",
            helper_id=helper_id,
            minutes_after_call=round(minutes, 1),
        )
        await self.refresh_sla(s, incident, now)
        return incident

    async def resolve(
        self,
        s: AsyncSession,
        incident_id: int,
        helper_id: int | None,
        now: datetime,
        actor: str,
        outcome: str,
    ) -> Incident:
        incident = await self.get_incident(s, incident_id, lock=True)
        if helper_id is not None:
            self._require_assigned(incident, helper_id)
        self._apply(incident, Event.RESOLVE, now)
        incident.closed_at, incident.outcome = now, outcome
        if incident.assigned_helper_id is not None:
            await self._release_helper(s, incident.assigned_helper_id, incident.id)
        self.record(s, incident, now, actor, "resolved", outcome=outcome)
        await self.refresh_sla(s, incident, now)
        return incident

    async def confirm_false_alarm(
        self, s: AsyncSession, incident_id: int, now: datetime, actor: str, note: str | None = None
    ) -> Incident:
        incident = await self.get_incident(s, incident_id, lock=True)
        self._apply(incident, Event.CONFIRM_FALSE_ALARM, now)
        incident.closed_at, incident.outcome = now, "false alarm"
        await self._withdraw_offers(s, incident, now)
        if incident.assigned_helper_id is not None:
            await self._release_helper(s, incident.assigned_helper_id, incident.id)
        self.record(s, incident, now, actor, "false_alarm", note=note)
        await self.refresh_sla(s, incident, now)
        return incident

    # ---- operator actions ------------------------------------------------------------------

    async def assign(
        self, s: AsyncSession, incident_id: int, helper_id: int, now: datetime, actor: str
    ) -> Incident:
        """An operator assigns a helper by hand (e.g. after phoning them): no offer round."""
        incident = await self.get_incident(s, incident_id, lock=True)
        helper = await s.get(Helper, helper_id)
        if helper is None:
            raise NotFound(f"helper {helper_id} does not exist")
        if helper.active_incident_id not in (None, incident.id):
            raise Conflict(
                f"helper {helper.name} is busy with incident {helper.active_incident_id}"
            )
        self._apply(incident, Event.ASSIGN, now)
        await self._withdraw_offers(s, incident, now, keep_helper=helper.id)
        helper.active_incident_id = incident.id
        eta = self._eta_from(helper, incident, now, fallback_s=0)
        # The offer table is the record of who was asked; a hand assignment is an accepted one.
        s.add(
            Offer(
                incident_id=incident.id,
                helper_id=helper.id,
                offered_at=now,
                expires_at=now,
                status="accepted",
                responded_at=now,
                distance_m=0.0,
                eta_s=int(eta.total_seconds()),
                accept_code="manual",
            )
        )
        await self._helper_sets_off(s, incident, helper, eta, now, actor, "assigned_by_operator")
        return incident

    async def withdraw_helper(
        self,
        s: AsyncSession,
        incident_id: int,
        now: datetime,
        actor: str,
        reason: str,
        *,
        redispatch: bool = True,
    ) -> Incident:
        """Take the assigned helper off the incident (they cannot come) and, unless the operator
        is about to assign someone by hand, offer it to the next best helper."""
        incident = await self.get_incident(s, incident_id, lock=True)
        helper_id = incident.assigned_helper_id
        self._apply(incident, Event.REASSIGN, now)
        incident.assigned_helper_id = incident.accepted_at = incident.eta_at = None
        if helper_id is not None:
            await self._release_helper(s, helper_id, incident.id)
            await s.execute(
                update(Offer)
                .where(
                    Offer.incident_id == incident.id,
                    Offer.helper_id == helper_id,
                    Offer.status == "accepted",
                )
                .values(status="released", responded_at=now)
            )
        self.record(s, incident, now, actor, "helper_withdrawn", helper_id=helper_id, reason=reason)
        if redispatch:
            await self.dispatch(s, incident, now)
        return incident

    async def escalate_by_hand(
        self,
        s: AsyncSession,
        incident_id: int,
        level: Level,
        now: datetime,
        actor: str,
        note: str | None = None,
    ) -> Incident:
        """An operator escalates (supervisor, or emergency services 120) without waiting."""
        incident = await self.get_incident(s, incident_id, lock=True)
        if State(incident.state) in (State.RESOLVED, State.CANCELLED):
            raise Conflict(f"incident {incident_id} is closed")
        current = Level(incident.escalation_level)
        if level <= current:
            raise Conflict(f"incident {incident_id} is already at {current.name.lower()}")
        incident.escalation_level = int(level)
        incident.updated_at = now
        self.record(
            s, incident, now, actor, "escalated", level=level.name.lower(), note=note, by_hand=True
        )
        if level >= Level.SUPERVISOR:
            await self._notify_supervisors(s, incident, level, now, note or "escalated by operator")
        return incident

    async def add_note(
        self,
        s: AsyncSession,
        incident_id: int,
        now: datetime,
        actor: str,
        text: str,
        action: str = "note",
    ) -> Incident:
        """Anything an operator wants on the record (a call made, what the elder said)."""
        incident = await self.get_incident(s, incident_id)
        self.record(s, incident, now, actor, action, text=text)
        incident.updated_at = now
        return incident

    async def update_helper_location(
        self, s: AsyncSession, helper: Helper, lat: float, lon: float, now: datetime
    ) -> None:
        """Move a helper; an assigned helper's new ETA may put the incident at risk."""
        helper.lat, helper.lon, helper.located_at = lat, lon, now
        if helper.active_incident_id is None:
            return
        incident = await s.get(Incident, helper.active_incident_id)
        if incident is None or incident.state != State.ASSIGNED.value:
            return
        if incident.assigned_helper_id == helper.id:
            incident.eta_at = now + self._eta_from(helper, incident, now, fallback_s=0)
            await self.refresh_sla(s, incident, now)

    # ---- timers ----------------------------------------------------------------------------

    async def fire(self, s: AsyncSession, timer: Timer, now: datetime) -> None:
        """Act on a due timer; a timer made moot by what happened since does nothing."""
        incident = await s.get_one(Incident, timer.incident_id)
        timer.fired_at = now
        if State(incident.state) in (State.RESOLVED, State.CANCELLED):
            return
        if timer.kind == "offer_expiry":
            offer = await s.get(Offer, timer.ref) if timer.ref is not None else None
            if offer is None or offer.status != "pending":
                return
            offer.status, offer.responded_at = "expired", now
            self._apply(incident, Event.OFFER_EXPIRED, now)
            await self._release_helper(s, offer.helper_id, incident.id)
            self.record(s, incident, now, SYSTEM, "offer_expired", helper_id=offer.helper_id)
            await self.dispatch(s, incident, now)
        elif timer.kind == "retry_dispatch":
            if incident.state == State.OPEN.value:
                await self.dispatch(s, incident, now)
        elif timer.kind in ("accept_check", "deadline"):
            await self.refresh_sla(s, incident, now)
        elif timer.kind == "escalation":
            await self._escalate(s, incident, Level(timer.ref or 0), now)
        else:
            log.error("unknown_timer_kind", timer_id=timer.id, kind=timer.kind)

    # ---- SLA -------------------------------------------------------------------------------

    async def refresh_sla(
        self, s: AsyncSession, incident: Incident, now: datetime, eta: datetime | None = None
    ) -> None:
        """Re-assess the arrival promise; entering at-risk or breached schedules escalation."""
        state = State(incident.state)
        result = assess(
            now=now,
            category=Category(incident.category),
            state=state,
            created_at=incident.created_at,
            deadline=incident.deadline,
            accepted_at=incident.accepted_at,
            eta=incident.eta_at if incident.eta_at is not None else eta,
            arrived_at=incident.arrived_at,
            has_candidates=incident.has_candidates,
            policy=self.config.sla,
            display_tz=self.config.display_tz,
        )
        previous = SlaStatus(incident.sla_status)
        incident.sla_status, incident.sla_code, incident.sla_reason = (
            result.status.value,
            result.code,
            result.reason,
        )
        incident.updated_at = now
        if result.status == previous:
            return
        self.record(
            s,
            incident,
            now,
            SYSTEM,
            "sla",
            status=result.status.value,
            code=result.code,
            reason=result.reason,
        )
        if result.status in (SlaStatus.AT_RISK, SlaStatus.BREACHED) and state not in (
            State.RESOLVED,
            State.CANCELLED,
            State.ON_SCENE,
        ):
            for step in steps_for(self.config.ladder, Category(incident.category), result.status):
                self._timer(s, incident, "escalation", now + step.delay, ref=int(step.level))
                if step.delay <= timedelta(0):
                    await self._escalate(s, incident, step.level, now)

    async def _escalate(
        self, s: AsyncSession, incident: Incident, level: Level, now: datetime
    ) -> None:
        step = next((st for st in self.config.ladder if st.level == level), None)
        if step is None or not should_fire(
            step, current_level=Level(incident.escalation_level), state=State(incident.state)
        ):
            return
        incident.escalation_level = int(level)
        self.record(
            s,
            incident,
            now,
            SYSTEM,
            "escalated",
            level=level.name.lower(),
            reason=incident.sla_reason,
        )
        log.warning(
            "escalated", incident_id=incident.id, level=level.name, reason=incident.sla_reason
        )
        if level >= Level.SUPERVISOR:
            await self._notify_supervisors(s, incident, level, now, incident.sla_reason or "")

    async def _notify_supervisors(
        self, s: AsyncSession, incident: Incident, level: Level, now: datetime, reason: str
    ) -> None:
        elder = await s.get(Elder, incident.elder_id) if incident.elder_id else None
        body = escalation_sms(
            level=level.name.lower(),
            incident_id=incident.id,
            elder_name=elder.name if elder else "unregistered device",
            address=elder.address if elder else f"{incident.lat}, {incident.lon}",
            reason=reason,
        )
        for phone in self.config.supervisor_phones:
            self._sms(s, incident, now, "escalation", phone, body)

    # ---- helpers ---------------------------------------------------------------------------

    async def get_incident(
        self, s: AsyncSession, incident_id: int, *, lock: bool = False
    ) -> Incident:
        stmt = select(Incident).where(Incident.id == incident_id)
        if lock and not self.db.is_sqlite:
            stmt = stmt.with_for_update()
        incident = (await s.execute(stmt)).scalar_one_or_none()
        if incident is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return incident

    def _apply(self, incident: Incident, event: Event, now: datetime) -> None:
        try:
            incident.state = transition(State(incident.state), event).value
        except InvalidTransition as exc:
            raise Conflict(str(exc)) from exc
        incident.updated_at = now

    def _require_assigned(self, incident: Incident, helper_id: int) -> None:
        if incident.assigned_helper_id != helper_id:
            raise Conflict(f"helper {helper_id} is not assigned to incident {incident.id}")

    def _eta_from(
        self, helper: Helper, incident: Incident, now: datetime, fallback_s: int
    ) -> timedelta:
        origin, position = _origin(incident), _position(helper)
        if origin is None or position is None:
            return timedelta(seconds=fallback_s)
        ranked = rank(
            origin, [position], now=now, deadline=incident.deadline, policy=self.config.matching
        )
        if not ranked:  # location too old to trust: keep what the offer estimated
            return timedelta(seconds=fallback_s)
        return ranked[0].eta

    async def _release_helper(self, s: AsyncSession, helper_id: int, incident_id: int) -> None:
        await s.execute(
            update(Helper)
            .where(Helper.id == helper_id, Helper.active_incident_id == incident_id)
            .values(active_incident_id=None)
        )

    async def _withdraw_offers(
        self, s: AsyncSession, incident: Incident, now: datetime, keep_helper: int | None = None
    ) -> None:
        pending = (
            (
                await s.execute(
                    select(Offer).where(Offer.incident_id == incident.id, Offer.status == "pending")
                )
            )
            .scalars()
            .all()
        )
        for offer in pending:
            offer.status, offer.responded_at = "withdrawn", now
            if offer.helper_id != keep_helper:
                await self._release_helper(s, offer.helper_id, incident.id)

    async def _helper_sets_off(
        self,
        s: AsyncSession,
        incident: Incident,
        helper: Helper,
        eta: timedelta,
        now: datetime,
        actor: str,
        action: str,
    ) -> None:
        incident.assigned_helper_id, incident.accepted_at = helper.id, now
        incident.eta_at = now + eta
        self.record(
            s,
            incident,
            now,
            actor,
            action,
            helper_id=helper.id,
            helper_name=helper.name,
            eta_at=incident.eta_at.isoformat(),
        )
        await self._notify_family_on_the_way(s, incident, helper, now)
        await self.refresh_sla(s, incident, now)

    async def _notify_family_on_the_way(
        self, s: AsyncSession, incident: Incident, helper: Helper, now: datetime
    ) -> None:
        if incident.elder_id is None or incident.eta_at is None:
            return
        elder = await s.get_one(Elder, incident.elder_id)
        eta_min = max(1, round((incident.eta_at - now).total_seconds() / 60))
        body = family_sms(
            elder_name=elder.name,
            summary=incident.summary,
            helper_name=helper.name,
            eta_minutes=eta_min,
        )
        for contact in elder.contacts:
            self._sms(s, incident, now, "family", contact.phone, body)

    def record(
        self,
        s: AsyncSession,
        incident: Incident,
        now: datetime,
        actor: str,
        action: str,
        **detail: Any,
    ) -> None:
        """Append to the incident's timeline: who did what, when (never updated or deleted)."""
        s.add(
            TimelineEntry(
                incident_id=incident.id,
                at=now,
                actor=actor,
                action=action,
                detail={k: v for k, v in detail.items() if v is not None},
            )
        )

    def _timer(
        self,
        s: AsyncSession,
        incident: Incident,
        kind: str,
        due_at: datetime,
        ref: int | None = None,
    ) -> None:
        s.add(Timer(incident_id=incident.id, kind=kind, due_at=due_at, ref=ref))

    def _sms(
        self, s: AsyncSession, incident: Incident, now: datetime, purpose: str, to: str, body: str
    ) -> None:
        s.add(
            OutboxMessage(
                incident_id=incident.id,
                channel="sms",
                purpose=purpose,
                recipient=to,
                body=body,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


def _origin(incident: Incident) -> tuple[float, float] | None:
    if incident.lat is None or incident.lon is None:
        return None
    return incident.lat, incident.lon


def _position(helper: Helper) -> HelperPosition | None:
    if helper.lat is None or helper.lon is None or helper.located_at is None:
        return None
    return HelperPosition(
        helper.id, helper.lat, helper.lon, TravelMode(helper.travel_mode), helper.located_at
    )


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


__all__ = ["Workflow", "WorkflowConfig", "due_timers_query", "open_incidents_query"]
