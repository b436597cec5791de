"""The dispatch core: ``decide(incident, event, now, candidates, config) -> Decision``.

Pure, in the style of h11: no I/O, no clock, no randomness. The server's applier and the
simulator's fast mode both run it, so a policy figure from the simulator is a statement about
the server. State changes go through ``sla.transition`` (the incident lifecycle table) and
``move_offer`` (the offer table); who is told what comes from ``notices.NOTICES``.

``candidates`` are the ranked helpers the shell found free for this incident (best first; the
server has already claimed the first with a row lock). Only events for which
``needs_candidates`` is true look at them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from dispatcher.core.effects import (
    NEW_OFFER,
    ArmTimer,
    CreateOffer,
    Effect,
    MoveOffer,
    Notify,
    Record,
    ReleaseHelper,
    ReserveHelper,
)
from dispatcher.core.events import (
    SYSTEM,
    Accept,
    Arrive,
    AssignByHand,
    Decline,
    DeviceAlarm,
    DeviceCancel,
    Dispatch,
    Escalate,
    EscalateByHand,
    Event,
    FalseAlarm,
    HelperMoved,
    NewIncident,
    OfferExpired,
    Reassess,
    RepeatPress,
    Resolve,
    Withdraw,
)
from dispatcher.core.notices import NOTICES, Moment, Recipient
from dispatcher.core.offers import OfferMove, OfferStatus, move_offer
from dispatcher.core.state import CoreConfig, Decision, IncidentState, OfferView
from dispatcher.core.timer_kinds import TimerKind
from dispatcher.errors import Conflict
from dispatcher.matching import RankedHelper
from dispatcher.matching import decide as choose_helper
from sla import Event as Lifecycle
from sla import (
    InvalidTransition,
    Level,
    SlaStatus,
    State,
    assess,
    is_terminal,
    should_fire,
    steps_for,
    transition,
)

__all__ = ["decide", "needs_candidates", "open_incident"]

FALSE_ALARM_OUTCOME = "false alarm"
DEADLINE_CHECK_AFTER = timedelta(seconds=1)


def needs_candidates(incident: IncidentState | None, event: Event | NewIncident) -> bool:
    """Whether deciding ``event`` may offer the incident, so the shell must rank helpers first."""
    if isinstance(event, NewIncident):
        return not event.defer_dispatch and event.lat is not None and event.lon is not None
    if incident is None or incident.origin is None:
        return False
    if isinstance(event, Dispatch):
        return incident.state == State.OPEN
    if isinstance(event, OfferExpired):
        return any(o.id == event.offer_id for o in incident.pending_offers)
    if isinstance(event, Decline):
        return incident.state == State.OFFERED
    if isinstance(event, Withdraw):
        return event.redispatch and incident.state == State.ASSIGNED
    return False


def open_incident(
    new: NewIncident,
    now: datetime,
    config: CoreConfig,
    candidates: Sequence[RankedHelper] = (),
) -> Decision:
    """Open an incident: its deadline fixed now, its clocks armed, the family told."""
    deadline = config.sla.deadline(new.category, now)
    incident = IncidentState(
        id=0,
        category=new.category,
        kind=new.kind,
        summary=new.summary,
        state=State.OPEN,
        created_at=now,
        deadline=deadline,
        elder_id=new.elder_id,
        device_id=new.device_id,
        lat=new.lat,
        lon=new.lon,
        unregistered=new.unregistered,
        late=new.late,
    )
    d = _Decider(incident, now, config, candidates)
    d.record(
        new.actor,
        "created",
        category=new.category.value,
        kind=new.kind,
        summary=new.summary,
        deadline=deadline,
        unregistered=new.unregistered or None,
        late=new.late or None,
        clock_rejected=new.clock_rejected,
    )
    d.arm(TimerKind.ACCEPT_CHECK, config.sla.accept_check_at(new.category, now))
    # Just after the deadline: at the deadline itself the promise still holds (sla.assess).
    d.arm(TimerKind.DEADLINE, deadline + DEADLINE_CHECK_AFTER)
    if new.elder_id is not None and new.notify_family:
        d.tell(Moment.RECEIVED)
    if incident.origin is None:
        d.set(has_candidates=False)
        d.record(SYSTEM, "no_location")
        d.reassess()
    elif new.defer_dispatch:
        # Committed and acknowledged first, dispatched just after; the timer makes a crash in
        # between harmless (it fires at once on restart).
        d.arm(TimerKind.RETRY_DISPATCH, now)
    else:
        d.dispatch()
    return d.decision()


def decide(
    incident: IncidentState,
    event: Event,
    now: datetime,
    config: CoreConfig,
    candidates: Sequence[RankedHelper] = (),
) -> Decision:
    """What ``event`` does to ``incident`` at ``now``; ``Conflict`` if it is not allowed."""
    d = _Decider(incident, now, config, candidates)
    if is_terminal(incident.state) and isinstance(
        event, Dispatch | OfferExpired | Reassess | Escalate | HelperMoved
    ):
        return d.decision()  # a clock or report made moot by the closure
    handler = _HANDLERS[type(event)]
    handler(d, event)
    return d.decision()


class _Decider:
    """One decision in progress: the incident as it becomes, and the effects so far."""

    def __init__(
        self,
        incident: IncidentState,
        now: datetime,
        config: CoreConfig,
        candidates: Sequence[RankedHelper],
    ) -> None:
        self.incident = incident
        self.now = now
        self.config = config
        self.candidates = candidates
        self.effects: list[Effect] = []

    def decision(self) -> Decision:
        return Decision(self.incident, tuple(self.effects))

    # ---- building blocks ------------------------------------------------------------------

    def set(self, **changes: Any) -> None:
        inc = self.incident
        changed = {k: v for k, v in changes.items() if getattr(inc, k) != v}
        if changed:  # copying the whole incident is the core's main cost: only when needed
            self.incident = dataclasses.replace(inc, **changed)

    def move(self, event: Lifecycle) -> None:
        try:
            self.set(state=transition(self.incident.state, event))
        except InvalidTransition as exc:
            raise Conflict(f"incident {self.incident.id}: {exc}") from exc

    def move_offer(self, offer: OfferView, move: OfferMove) -> None:
        status = move_offer(offer.status, move)
        self.set(
            offers=tuple(
                dataclasses.replace(o, status=status) if o.id == offer.id else o
                for o in self.incident.offers
            )
        )
        self.effects.append(MoveOffer(offer.id, move))

    def record(self, actor: str, action: str, **params: Any) -> None:
        self.effects.append(
            Record(actor, action, {k: v for k, v in params.items() if v is not None})
        )

    def arm(self, kind: TimerKind, due_at: datetime, ref: int | None = None) -> None:
        self.effects.append(ArmTimer(kind, due_at, ref))

    def tell(self, moment: Moment, helper_id: int | None = None, **facts: Any) -> None:
        for recipient, purpose in NOTICES[moment]:
            if recipient == Recipient.HELPER and helper_id is None:
                continue
            self.effects.append(
                Notify(
                    moment,
                    recipient,
                    purpose,
                    helper_id if recipient == Recipient.HELPER else None,
                    {"helper_id": helper_id, **facts} if helper_id is not None else dict(facts),
                )
            )

    def pending_offer_of(self, helper_id: int) -> OfferView:
        for offer in self.incident.pending_offers:
            if offer.helper_id == helper_id:
                return offer
        raise Conflict(f"helper {helper_id} has no pending offer for incident {self.incident.id}")

    def require_assigned(self, helper_id: int | None) -> None:
        if helper_id is not None and self.incident.assigned_helper_id != helper_id:
            raise Conflict(f"helper {helper_id} is not assigned to incident {self.incident.id}")

    # ---- dispatch ---------------------------------------------------------------------------

    def dispatch(self) -> None:
        """Offer to the helper who arrives first; escalate at once when nobody can make it."""
        inc = self.incident
        if inc.origin is None or inc.state != State.OPEN:
            return
        eligible = [c for c in self.candidates if c.helper_id not in inc.not_to_ask]
        choice = choose_helper(eligible[:1])
        best = choice.best
        if best is None:
            if inc.has_candidates:  # said once, not on every retry
                self.record(SYSTEM, "no_candidate")
            self.set(has_candidates=False)
            self.arm(TimerKind.RETRY_DISPATCH, self.now + self.config.retry_dispatch_after)
            self.reassess()
            return
        expires_at = self.config.sla.offer_expires_at(inc.category, self.now)
        eta_min = _minutes(best.eta)
        self.move(Lifecycle.OFFER)
        self.effects += [
            CreateOffer(best.helper_id, expires_at, int(best.eta.total_seconds()), best.distance_m),
            ReserveHelper(best.helper_id),
            ArmTimer(TimerKind.OFFER_EXPIRY, expires_at, NEW_OFFER),
        ]
        self.set(
            has_candidates=True,
            offers=(
                *self.incident.offers,
                OfferView(
                    NEW_OFFER,
                    best.helper_id,
                    OfferStatus.PENDING,
                    int(best.eta.total_seconds()),
                    expires_at,
                ),
            ),
        )
        self.record(
            SYSTEM,
            "offered",
            helper_id=best.helper_id,
            distance_m=round(best.distance_m),
            eta_min=eta_min,
            can_make_deadline=best.can_make_deadline,
            expires_at=expires_at,
        )
        self.tell(Moment.OFFERED, best.helper_id, offer_id=NEW_OFFER, eta_min=eta_min)
        if choice.escalate:
            self.record(
                SYSTEM, "cannot_make_deadline", arrives_at=best.arrives_at, deadline=inc.deadline
            )
        self.reassess(eta=best.arrives_at)

    def sets_off(
        self, helper_id: int, eta: timedelta | None, actor: str, action: str, moment: Moment
    ) -> None:
        eta_at = self.now + eta if eta is not None else None
        self.set(assigned_helper_id=helper_id, accepted_at=self.now, eta_at=eta_at)
        self.record(actor, action, helper_id=helper_id, eta_at=eta_at)
        self.tell(moment, helper_id, eta_at=eta_at)
        self.reassess()

    def withdraw_pending(self, keep: int | None, reason: str) -> None:
        for offer in self.incident.pending_offers:
            if offer.helper_id == keep:
                continue
            self.move_offer(offer, OfferMove.WITHDRAW)
            self.effects.append(ReleaseHelper(offer.helper_id))
            self.tell(Moment.OFFER_WITHDRAWN, offer.helper_id, reason=reason)

    # ---- SLA and escalation ---------------------------------------------------------------

    def reassess(self, eta: datetime | None = None) -> None:
        """Re-assess the arrival promise; entering at risk or breached schedules escalation."""
        inc = self.incident
        result = assess(
            now=self.now,
            category=inc.category,
            state=inc.state,
            created_at=inc.created_at,
            deadline=inc.deadline,
            accepted_at=inc.accepted_at,
            eta=inc.eta_at if inc.eta_at is not None else eta,
            arrived_at=inc.arrived_at,
            has_candidates=inc.has_candidates,
            policy=self.config.sla,
            display_tz=self.config.display_tz,
        )
        previous = inc.sla_status
        code = result.code.value if result.code is not None else None
        self.set(sla_status=result.status, sla_code=code, sla_reason=result.reason)
        if result.status == previous:
            return
        self.record(
            SYSTEM,
            "sla",
            status=result.status.value,
            code=code,
            deadline=inc.deadline,
            eta_at=inc.eta_at if inc.eta_at is not None else eta,
        )
        if result.status in (SlaStatus.AT_RISK, SlaStatus.BREACHED) and inc.state not in (
            State.RESOLVED,
            State.CANCELLED,
            State.ON_SCENE,
        ):
            for step in steps_for(self.config.ladder, inc.category, result.status):
                self.arm(TimerKind.ESCALATION, self.now + step.delay, int(step.level))
                if step.delay <= timedelta(0):
                    self.escalate(step.level)

    def escalate(self, level: Level) -> None:
        step = next((st for st in self.config.ladder if st.level == level), None)
        inc = self.incident
        if step is None or not should_fire(
            step, current_level=inc.escalation_level, state=inc.state, status=inc.sla_status
        ):
            return
        self.set(escalation_level=level)
        self.record(SYSTEM, "escalated", level=level.name.lower(), code=inc.sla_code)
        if level >= Level.SUPERVISOR:
            self.tell(Moment.ESCALATED, level=level.name.lower(), code=inc.sla_code)


# ---- one handler per event ------------------------------------------------------------------


def _dispatch(d: _Decider, _e: Dispatch) -> None:
    d.dispatch()


def _offer_expired(d: _Decider, e: OfferExpired) -> None:
    offer = next((o for o in d.incident.pending_offers if o.id == e.offer_id), None)
    if offer is None:
        return  # answered, withdrawn or already expired: the timer is moot
    d.move_offer(offer, OfferMove.EXPIRE)
    d.move(Lifecycle.OFFER_EXPIRED)
    d.effects.append(ReleaseHelper(offer.helper_id))
    d.record(e.actor, "offer_expired", helper_id=offer.helper_id)
    d.tell(Moment.OFFER_EXPIRED, offer.helper_id)
    d.dispatch()


def _accept(d: _Decider, e: Accept) -> None:
    offer = d.pending_offer_of(e.helper_id)
    d.move(Lifecycle.ACCEPT)
    d.move_offer(offer, OfferMove.ACCEPT)
    d.sets_off(e.helper_id, e.eta, e.actor, "accepted", Moment.ACCEPTED)


def _decline(d: _Decider, e: Decline) -> None:
    offer = d.pending_offer_of(e.helper_id)
    d.move(Lifecycle.DECLINE)
    d.move_offer(offer, OfferMove.DECLINE)
    d.effects.append(ReleaseHelper(e.helper_id))
    d.record(e.actor, "declined", helper_id=e.helper_id)
    d.dispatch()


def _assign_by_hand(d: _Decider, e: AssignByHand) -> None:
    eta_s = int(e.eta.total_seconds()) if e.eta is not None else 0
    d.move(Lifecycle.ASSIGN)
    d.withdraw_pending(keep=e.helper_id, reason="reassigned")
    mine = [o for o in d.incident.pending_offers if o.helper_id == e.helper_id]
    if mine:
        d.move_offer(mine[0], OfferMove.ACCEPT)
    else:
        d.effects += [
            CreateOffer(e.helper_id, d.now, eta_s, 0.0, manual=True),
            ReserveHelper(e.helper_id),
        ]
        d.set(
            offers=(
                *d.incident.offers,
                OfferView(NEW_OFFER, e.helper_id, OfferStatus.ACCEPTED, eta_s),
            )
        )
    d.sets_off(e.helper_id, e.eta, e.actor, "assigned_by_operator", Moment.ASSIGNED_BY_HAND)


def _withdraw(d: _Decider, e: Withdraw) -> None:
    helper_id = d.incident.assigned_helper_id
    d.move(Lifecycle.REASSIGN)
    d.set(assigned_helper_id=None, accepted_at=None, eta_at=None)
    if helper_id is not None:
        d.effects.append(ReleaseHelper(helper_id))
        for offer in d.incident.offers:
            if offer.helper_id == helper_id and offer.status == OfferStatus.ACCEPTED:
                d.move_offer(offer, OfferMove.RELEASE)
    d.record(e.actor, "helper_withdrawn", helper_id=helper_id, reason=e.reason)
    d.tell(Moment.HELPER_WITHDRAWN, helper_id, reason=e.reason)
    if e.redispatch and d.incident.origin is not None:
        d.dispatch()  # re-assesses with the next helper's ETA
    else:
        d.reassess()


def _arrive(d: _Decider, e: Arrive) -> None:
    d.require_assigned(e.helper_id)
    d.move(Lifecycle.ARRIVE)
    d.set(arrived_at=d.now)
    minutes = (d.now - d.incident.created_at).total_seconds() / 60
    helper_id = d.incident.assigned_helper_id
    d.record(e.actor, "arrived", helper_id=helper_id, minutes_after_call=round(minutes, 1))
    d.tell(Moment.ARRIVED, None, arrived_helper_id=helper_id)
    d.reassess()


def _resolve(d: _Decider, e: Resolve) -> None:
    d.require_assigned(e.helper_id)
    d.move(Lifecycle.RESOLVE)
    d.set(closed_at=d.now, outcome=e.outcome)
    helper_id = d.incident.assigned_helper_id
    if helper_id is not None:
        d.effects.append(ReleaseHelper(helper_id))
    d.record(e.actor, "resolved", outcome=e.outcome)
    # The helper who closed it knows; anyone else's closing is news to them.
    told = helper_id if e.actor != f"helper:{helper_id}" else None
    d.tell(Moment.RESOLVED, told, outcome=e.outcome, closed_helper_id=helper_id)
    d.reassess()


def _false_alarm(d: _Decider, e: FalseAlarm) -> None:
    d.move(Lifecycle.CONFIRM_FALSE_ALARM)
    d.set(closed_at=d.now, outcome=FALSE_ALARM_OUTCOME)
    d.withdraw_pending(keep=None, reason="false_alarm")
    helper_id = d.incident.assigned_helper_id
    if helper_id is not None:
        d.effects.append(ReleaseHelper(helper_id))
    d.record(e.actor, "false_alarm", note=e.note)
    d.tell(Moment.FALSE_ALARM, helper_id, reason="false_alarm")
    d.reassess()


def _device_cancel(d: _Decider, e: DeviceCancel) -> None:
    # Flag for an operator: a cancel from a watch can be a charger unplugged, or a confused
    # press after a real fall.
    d.move(Lifecycle.DEVICE_CANCEL)
    d.set(cancel_requested=True)
    d.record(e.actor, "device_cancelled")


def _repeat_press(d: _Decider, e: RepeatPress) -> None:
    d.move(Lifecycle.REPEAT_PRESS)
    d.record(e.actor, "repeat_press", summary=e.summary)


def _device_alarm(d: _Decider, e: DeviceAlarm) -> None:
    d.record(e.actor, e.action, items=list(e.items))


def _escalate_by_hand(d: _Decider, e: EscalateByHand) -> None:
    inc = d.incident
    if is_terminal(inc.state):
        raise Conflict(f"incident {inc.id} is closed")
    if e.level <= inc.escalation_level:
        raise Conflict(f"incident {inc.id} is already at {inc.escalation_level.name.lower()}")
    d.set(escalation_level=e.level)
    d.record(e.actor, "escalated", level=e.level.name.lower(), note=e.note, by_hand=True)
    if e.level >= Level.SUPERVISOR:
        d.tell(Moment.ESCALATED, level=e.level.name.lower(), reason=e.note, by_hand=True)


def _escalate(d: _Decider, e: Escalate) -> None:
    d.escalate(e.level)


def _reassess(d: _Decider, _e: Reassess) -> None:
    d.reassess()


def _helper_moved(d: _Decider, e: HelperMoved) -> None:
    inc = d.incident
    if inc.state == State.ASSIGNED and inc.assigned_helper_id == e.helper_id:
        d.set(eta_at=d.now + e.eta)
        d.reassess()


_HANDLERS: dict[type[Any], Any] = {
    Dispatch: _dispatch,
    OfferExpired: _offer_expired,
    Accept: _accept,
    Decline: _decline,
    AssignByHand: _assign_by_hand,
    Withdraw: _withdraw,
    Arrive: _arrive,
    Resolve: _resolve,
    FalseAlarm: _false_alarm,
    DeviceCancel: _device_cancel,
    RepeatPress: _repeat_press,
    DeviceAlarm: _device_alarm,
    EscalateByHand: _escalate_by_hand,
    Escalate: _escalate,
    Reassess: _reassess,
    HelperMoved: _helper_moved,
}


def _minutes(delta: timedelta) -> int:
    return max(1, round(delta.total_seconds() / 60))
