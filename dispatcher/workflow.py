"""Commands on incidents: read the incident, let the core decide, apply the decision.

Every command runs inside the caller's transaction and takes ``now``. The pattern is always the
same (``_run``): load the incident's state, rank helpers if the core will need them, call
``dispatcher.core``, hand the decision to the ``Applier``. Operators, helpers, ingest and the
timer loop all come through here; none of them changes an incident any other way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import structlog

from dispatcher.applier import Applier, NoticeConfig
from dispatcher.core import (
    SYSTEM,
    Accept,
    Arrive,
    AssignByHand,
    CoreConfig,
    Decline,
    DeviceAlarm,
    DeviceCancel,
    DeviceReport,
    EscalateByHand,
    Event,
    FalseAlarm,
    HelperMoved,
    IncidentState,
    NewIncident,
    OfferExpired,
    RepeatPress,
    Resolve,
    Withdraw,
    decide,
    event_for_timer,
    needs_candidates,
    open_incident,
    route,
)
from dispatcher.errors import Conflict, NotFound
from dispatcher.matching import DEFAULT_POLICY, MatchingPolicy
from dispatcher.store import Database, Session
from dispatcher.store.incidents import IncidentRepository
from dispatcher.store.models import Elder, Helper, Incident, Timer
from sla import DEFAULT_LADDER, Category, EscalationStep, Level, SlaPolicy

log = structlog.get_logger(__name__)

__all__ = ["SYSTEM", "Workflow", "WorkflowConfig"]


@dataclass(frozen=True)
class WorkflowConfig:
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    matching: MatchingPolicy = DEFAULT_POLICY
    ladder: Sequence[EscalationStep] = DEFAULT_LADDER
    supervisor_phones: tuple[str, ...] = ()
    retry_dispatch_after: timedelta = timedelta(seconds=30)
    public_url: str | None = None
    # Operators and helpers read clock times in local time (the store keeps UTC).
    display_tz: tzinfo = UTC
    # How a helper answers an offer here ("{code}" is replaced); None: the SMS says nothing.
    offer_answer: str | None = None

    @property
    def core(self) -> CoreConfig:
        return CoreConfig(
            sla=self.sla,
            ladder=self.ladder,
            retry_dispatch_after=self.retry_dispatch_after,
            display_tz=self.display_tz,
        )


class Workflow:
    """The incident commands; one instance per server process."""

    def __init__(self, db: Database, config: WorkflowConfig | None = None) -> None:
        self.db = db
        self.config = config or WorkflowConfig()
        self.core = self.config.core
        self.incidents = IncidentRepository(db, self.config.matching)
        self.applier = Applier(
            self.incidents,
            NoticeConfig(
                display_tz=self.config.display_tz,
                supervisor_phones=self.config.supervisor_phones,
                offer_answer=self.config.offer_answer,
            ),
        )

    # ---- the one way an incident changes --------------------------------------------------

    async def _run(
        self,
        s: Session,
        incident: Incident,
        event: Event,
        now: datetime,
        state: IncidentState | None = None,
    ) -> Incident:
        if state is None:
            state = await self.incidents.state_of(s, incident)
        candidates = (
            await self.incidents.candidates(s, state, now) if needs_candidates(state, event) else []
        )
        decision = decide(state, event, now, self.core, candidates)
        return await self.applier.apply(s, incident, decision, now)

    async def _on(self, s: Session, incident_id: int, event: Event, now: datetime) -> Incident:
        incident = await self.get_incident(s, incident_id, lock=True)
        return await self._run(s, incident, event, now)

    # ---- opening --------------------------------------------------------------------------

    async def find_open(
        self, s: Session, *, elder_id: int | None, device_id: str | None
    ) -> Incident | None:
        """The elder's open incident (or, for an unregistered device, the device's)."""
        return await self.incidents.find_open(s, elder_id=elder_id, device_id=device_id)

    async def open_incident(
        self,
        s: Session,
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
        clock_rejected: str | None = None,
        notify_family: bool = True,
        defer_dispatch: bool = False,
    ) -> Incident:
        """Create an incident with its deadline fixed now, its clocks, and a first offer."""
        new = NewIncident(
            category=category,
            kind=kind,
            summary=summary,
            elder_id=elder.id if elder else None,
            device_id=device_id,
            lat=lat,
            lon=lon,
            actor=actor,
            unregistered=unregistered,
            late=late,
            clock_rejected=clock_rejected,
            notify_family=notify_family,
            defer_dispatch=defer_dispatch,
        )
        return await self.open(s, new, now)

    async def open(self, s: Session, new: NewIncident, now: datetime) -> Incident:
        """Open ``new``; without a position of its own it is sent to the elder's home."""
        if new.lat is None or new.lon is None:
            elder = await self.incidents.elder(s, new.elder_id)
            if elder is not None:
                new = dataclasses.replace(new, lat=elder.home_lat, lon=elder.home_lon)
        candidates = []
        if needs_candidates(None, new):
            probe = open_incident(new, now, self.core)  # the new incident's facts, for ranking
            candidates = await self.incidents.candidates(s, probe.incident, now)
        decision = open_incident(new, now, self.core, candidates)
        incident = await self.applier.apply(s, None, decision, now)
        log.info(
            "incident_opened",
            incident_id=incident.id,
            device_id=new.device_id,
            category=new.category.value,
            kind=new.kind,
            unregistered=new.unregistered,
        )
        return incident

    async def device_report(
        self, s: Session, report: DeviceReport, now: datetime
    ) -> Incident | None:
        """What a device said, applied to the elder's open incident (the core routes it)."""
        existing = await self.incidents.find_open(
            s, elder_id=report.elder_id, device_id=report.device_id
        )
        state = await self.incidents.state_of(s, existing) if existing is not None else None
        action = route(state, report)
        if action is None:
            return existing
        if isinstance(action, NewIncident):
            return await self.open(s, action, now)
        assert existing is not None  # route() answers an event only for an open incident
        return await self._run(s, existing, action, now, state)

    async def join(
        self, s: Session, incident: Incident, now: datetime, actor: str, summary: str
    ) -> None:
        """A repeated press while an incident is open joins it instead of opening another."""
        await self._run(s, incident, RepeatPress(summary=summary, actor=actor), now)

    async def device_cancelled(
        self, s: Session, incident: Incident, now: datetime, actor: str
    ) -> None:
        """Flag for an operator to confirm; a cancel from a watch can be a charger unplugged."""
        await self._run(s, incident, DeviceCancel(actor=actor), now)

    async def device_alarm(
        self,
        s: Session,
        incident: Incident,
        now: datetime,
        actor: str,
        action: str,
        items: Sequence[str],
    ) -> None:
        """Alarms or abnormal vitals reported while the elder's incident is open."""
        await self._run(
            s, incident, DeviceAlarm(action=action, items=tuple(items), actor=actor), now
        )

    # ---- dispatch and timers --------------------------------------------------------------

    async def dispatch_due(self, s: Session, incident_id: int, now: datetime) -> None:
        """Run the incident's pending dispatch timer now, unless another process already has."""
        for timer in await self.incidents.due_dispatch_timers(s, incident_id, now):
            await self.fire(s, timer, now)

    async def fire(self, s: Session, timer: Timer, now: datetime) -> None:
        """Act on a due timer; one made moot by what happened since does nothing."""
        timer.fired_at = now
        incident = await self.get_incident(s, timer.incident_id)
        try:
            event = event_for_timer(timer.kind, timer.ref)
        except (KeyError, ValueError):
            log.error("unknown_timer_kind", timer_id=timer.id, kind=timer.kind)
            return
        try:
            await self._run(s, incident, event, now)
        except Conflict as exc:  # e.g. an offer expiry racing an answer: the answer won
            log.info("timer_moot", timer_id=timer.id, kind=timer.kind, reason=str(exc))

    async def offer_undeliverable(self, s: Session, offer_id: int, now: datetime) -> Incident:
        """The offer's SMS could not be delivered: expire that offer now, so the next helper is
        asked at once instead of after its timeout; an offer no longer pending is left as it is."""
        offer = await self.incidents.offer(s, offer_id)
        if offer is None:
            raise NotFound(f"offer {offer_id} does not exist")
        return await self._on(s, offer.incident_id, OfferExpired(offer_id=offer_id), now)

    # ---- helper actions -------------------------------------------------------------------

    async def accept(
        self, s: Session, incident_id: int, helper_id: int, now: datetime, actor: str
    ) -> Incident:
        incident = await self.get_incident(s, incident_id, lock=True)
        state = await self.incidents.state_of(s, incident)
        offer = next((o for o in state.pending_offers if o.helper_id == helper_id), None)
        eta = await self._eta(s, helper_id, incident, now, offer.eta_s if offer else 0)
        return await self._run(s, incident, Accept(helper_id=helper_id, eta=eta, actor=actor), now)

    async def decline(
        self, s: Session, incident_id: int, helper_id: int, now: datetime, actor: str
    ) -> Incident:
        return await self._on(s, incident_id, Decline(helper_id=helper_id, actor=actor), now)

    async def arrive(
        self, s: Session, incident_id: int, helper_id: int, now: datetime, actor: str
    ) -> Incident:
        return await self._on(s, incident_id, Arrive(helper_id=helper_id, actor=actor), now)

    async def resolve(
        self,
        s: Session,
        incident_id: int,
        helper_id: int | None,
        now: datetime,
        actor: str,
        outcome: str,
    ) -> Incident:
        event = Resolve(helper_id=helper_id, outcome=outcome, actor=actor)
        return await self._on(s, incident_id, event, now)

    async def update_helper_location(
        self, s: Session, helper: Helper, lat: float, lon: float, now: datetime
    ) -> None:
        """Move a helper; an assigned helper's new ETA may put the incident at risk."""
        helper.lat, helper.lon, helper.located_at = lat, lon, now
        if helper.active_incident_id is None:
            return
        incident = await self.incidents.find(s, helper.active_incident_id)
        if incident is None or incident.assigned_helper_id != helper.id:
            return
        eta = await self._eta(s, helper.id, incident, now, 0)
        await self._run(s, incident, HelperMoved(helper_id=helper.id, eta=eta, actor=SYSTEM), now)

    # ---- operator actions -----------------------------------------------------------------

    async def confirm_false_alarm(
        self, s: Session, incident_id: int, now: datetime, actor: str, note: str | None = None
    ) -> Incident:
        return await self._on(s, incident_id, FalseAlarm(actor=actor, note=note), now)

    async def assign(
        self, s: Session, incident_id: int, helper_id: int, now: datetime, actor: str
    ) -> Incident:
        """An operator assigns a helper by hand (e.g. after phoning them): no offer round."""
        incident = await self.get_incident(s, incident_id, lock=True)
        helper = await self.incidents.helper(s, helper_id)
        if helper is None:
            raise NotFound(f"helper {helper_id} does not exist")
        if helper.active_incident_id not in (None, incident.id):
            raise Conflict(
                f"helper {helper.name} is busy with incident {helper.active_incident_id}"
            )
        # Phoned by the operator, maybe with no fresh position: then nobody is told a time.
        state = await self.incidents.state_of(s, incident)
        eta = self.incidents.eta_of(helper, state, now)
        event = AssignByHand(helper_id=helper_id, eta=eta, actor=actor)
        return await self._run(s, incident, event, now)

    async def withdraw_helper(
        self,
        s: Session,
        incident_id: int,
        now: datetime,
        actor: str,
        reason: str,
        *,
        redispatch: bool = True,
    ) -> Incident:
        """Take the assigned helper off (they cannot come) and, unless the operator is about
        to assign someone by hand, offer the incident to the next best helper."""
        event = Withdraw(reason=reason, actor=actor, redispatch=redispatch)
        return await self._on(s, incident_id, event, now)

    async def escalate_by_hand(
        self,
        s: Session,
        incident_id: int,
        level: Level,
        now: datetime,
        actor: str,
        note: str | None = None,
    ) -> Incident:
        """An operator escalates (supervisor, or emergency services 120) without waiting."""
        event = EscalateByHand(level=level, actor=actor, note=note)
        return await self._on(s, incident_id, event, now)

    async def add_note(
        self,
        s: Session,
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

    # ---- reading --------------------------------------------------------------------------

    async def get_incident(self, s: Session, incident_id: int, *, lock: bool = False) -> Incident:
        return await self.incidents.get(s, incident_id, lock=lock)

    def record(
        self, s: Session, incident: Incident, now: datetime, actor: str, action: str, **detail: Any
    ) -> None:
        """Append to the incident's timeline: who did what, when (never updated or deleted)."""
        self.incidents.record(s, incident.id, now, actor, action, detail)

    async def _eta(
        self, s: Session, helper_id: int, incident: Incident, now: datetime, fallback_s: int
    ) -> timedelta:
        helper = await self.incidents.helper(s, helper_id)
        state = await self.incidents.state_of(s, incident)
        eta = self.incidents.eta_of(helper, state, now) if helper is not None else None
        # A position too old to trust: keep what the offer estimated.
        return eta if eta is not None else timedelta(seconds=fallback_s)
