"""The dispatch core, event by event: state, offers, timers, timeline and who is told."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dispatcher.core import (
    NEW_OFFER,
    SYSTEM,
    Accept,
    ArmTimer,
    Arrive,
    AssignByHand,
    CoreConfig,
    CreateOffer,
    Decline,
    DeviceAlarm,
    DeviceCancel,
    Dispatch,
    Escalate,
    EscalateByHand,
    Event,
    FalseAlarm,
    HelperMoved,
    MoveOffer,
    Notify,
    OfferExpired,
    OfferMove,
    OfferStatus,
    Purpose,
    Reassess,
    Recipient,
    Record,
    ReleaseHelper,
    RepeatPress,
    ReserveHelper,
    Resolve,
    TimerKind,
    Withdraw,
    decide,
    needs_candidates,
)
from dispatcher.errors import Conflict
from sla import Category, EscalationStep, Level, SlaStatus, State
from tests.dispatcher.core.harness import (
    CONFIG,
    DEVICE,
    H1,
    H2,
    H3,
    OPERATOR,
    SHANGHAI,
    T0,
    Run,
    actions,
    new_incident,
    notices,
    of_type,
    record,
)

P, R = Purpose, Recipient
MIN = timedelta(minutes=1)


def offered(*helpers: tuple[int, float], **overrides: Any) -> Run:
    """An emergency offered to the first of ``helpers`` (default: H1, 5 minutes away)."""
    return Run.open(*(helpers or ((H1, 5),)), **overrides)


def assigned(helper_id: int = H1, eta_min: float = 5) -> Run:
    """An emergency whose offer ``helper_id`` accepted 30 s after the press."""
    run = offered((helper_id, eta_min))
    run.on(
        Accept(helper_id=helper_id, eta=eta_min * MIN, actor=f"helper:{helper_id}"),
        after=timedelta(seconds=30),
    )
    return run


def on_scene(helper_id: int = H1) -> Run:
    """An emergency whose helper checked in 6 minutes after the press."""
    run = assigned(helper_id)
    run.on(Arrive(helper_id=helper_id, actor=f"helper:{helper_id}"), after=5.5 * MIN)
    return run


# ---- opening ------------------------------------------------------------------------------


def test_opening_fixes_the_deadline_and_arms_the_accept_check_and_deadline_clocks() -> None:
    """An emergency is due 15 minutes after receipt; the accept check and deadline are armed."""
    run = offered()
    first = run.decisions[0]
    assert run.incident.deadline == T0 + 15 * MIN
    assert run.incident.created_at == T0
    timers = [(t.kind, t.due_at) for t in of_type(first, ArmTimer)]
    assert (TimerKind.ACCEPT_CHECK, T0 + 5 * MIN) in timers
    # Armed just after the deadline: at the deadline itself the promise still holds.
    assert (TimerKind.DEADLINE, T0 + 15 * MIN + timedelta(seconds=1)) in timers
    created = record(first, "created")
    assert created.params["deadline"] == T0 + 15 * MIN
    assert created.params["category"] == "emergency"
    assert "unregistered" not in created.params  # False flags are not written


def test_opening_a_general_request_gives_30_minutes_and_a_3_minute_offer() -> None:
    """General help is due in 30 minutes and its offer waits three minutes for an answer."""
    run = offered(category=Category.GENERAL, kind="request", summary="买菜")
    assert run.incident.deadline == T0 + 30 * MIN
    (offer,) = of_type(run.last, CreateOffer)
    assert offer.expires_at == T0 + 3 * MIN


def test_opening_tells_the_family_the_call_was_received() -> None:
    """A registered elder's family hears at once that the call was received."""
    run = offered()
    assert notices(run.decisions[0])[0] == (R.FAMILY, P.FAMILY_RECEIVED, None)


@pytest.mark.parametrize(
    "overrides",
    [{"elder_id": None, "unregistered": True}, {"notify_family": False}],
    ids=["unregistered device", "operator's own request"],
)
def test_opening_without_a_family_to_tell_tells_no_family(overrides: dict[str, object]) -> None:
    """No family SMS for an unregistered device or an operator's request that asks not to."""
    run = offered(**overrides)
    assert all(r != R.FAMILY for r, _, _ in notices(run.decisions[0]))


def test_a_device_incident_is_dispatched_by_a_timer_due_at_once() -> None:
    """A press is acknowledged first and dispatched just after: a retry timer due now."""
    run = Run.open((H1, 5), defer_dispatch=True)
    first = run.decisions[0]
    assert first.incident.state == State.OPEN
    assert not of_type(first, CreateOffer)
    assert ArmTimer(TimerKind.RETRY_DISPATCH, T0) in first.effects
    run.on(Dispatch(), (H1, 5))
    assert run.incident.state == State.OFFERED


def test_opening_without_a_location_is_at_risk_and_alerts_the_operators() -> None:
    """With no fix and no home position nobody can be sent: at risk, operators alerted."""
    run = Run.open((H1, 5), lat=None, lon=None)
    first = run.decisions[0]
    assert run.incident.state == State.OPEN
    assert run.incident.sla_status == SlaStatus.AT_RISK
    assert run.incident.sla_code == "no_candidate"
    assert run.incident.escalation_level == Level.OPERATOR
    assert actions(first) == ["created", "no_location", "sla", "escalated"]
    assert not of_type(first, CreateOffer)


# ---- dispatch -----------------------------------------------------------------------------


def test_dispatch_offers_the_best_helper_and_arms_the_offer_expiry() -> None:
    """The first candidate is offered, reserved, told, and the offer expires after 60 s."""
    run = offered((H1, 5), (H2, 8))
    first = run.decisions[0]
    assert run.incident.state == State.OFFERED
    expires = T0 + timedelta(seconds=60)
    assert CreateOffer(H1, expires, 300, 1250.0) in first.effects
    assert ReserveHelper(H1) in first.effects
    assert ArmTimer(TimerKind.OFFER_EXPIRY, expires, NEW_OFFER) in first.effects
    (offer,) = [n for n in of_type(first, Notify) if n.purpose == P.HELPER_OFFER]
    assert (offer.helper_id, offer.facts["offer_id"], offer.facts["eta_min"]) == (
        H1,
        NEW_OFFER,
        5,
    )
    params = record(first, "offered").params
    assert params["helper_id"] == H1 and params["can_make_deadline"] is True
    assert run.incident.sla_status == SlaStatus.ON_TRACK


def test_dispatch_offers_a_late_best_helper_anyway_and_escalates_at_once() -> None:
    """If nobody can make the deadline the best is still offered and the operators alerted."""
    run = offered((H1, 20))
    first = run.decisions[0]
    assert run.incident.state == State.OFFERED
    late = record(first, "cannot_make_deadline").params
    assert late == {"arrives_at": T0 + 20 * MIN, "deadline": T0 + 15 * MIN}
    sla = record(first, "sla").params
    assert (sla["status"], sla["code"], sla["eta_at"]) == (
        "at_risk",
        "eta_after_deadline",
        T0 + 20 * MIN,
    )
    assert run.incident.escalation_level == Level.OPERATOR
    assert record(first, "escalated").params == {"level": "operator", "code": "eta_after_deadline"}
    # The operator level is the console's; supervisors are not paged for at risk.
    assert all(r != R.SUPERVISORS for r, _, _ in notices(first))


def test_with_nobody_free_dispatch_retries_and_the_incident_is_at_risk() -> None:
    """No candidate: a retry in 30 s, at risk (no_candidate), operators alerted at once."""
    run = Run.open()
    first = run.decisions[0]
    assert run.incident.state == State.OPEN
    assert not run.incident.has_candidates
    assert ArmTimer(TimerKind.RETRY_DISPATCH, T0 + timedelta(seconds=30)) in first.effects
    assert (run.incident.sla_status, run.incident.sla_code) == (SlaStatus.AT_RISK, "no_candidate")
    assert "no_candidate" in actions(first)
    assert ArmTimer(TimerKind.ESCALATION, T0, int(Level.OPERATOR)) in first.effects
    assert run.incident.escalation_level == Level.OPERATOR


def test_the_retry_timer_offers_a_helper_who_became_free() -> None:
    """When the retry finds a helper the incident is offered and back on track."""
    run = Run.open()
    retry = run.on(Dispatch(), (H2, 4), after=timedelta(seconds=30))
    assert run.incident.state == State.OFFERED
    assert run.incident.has_candidates
    assert run.incident.sla_status == SlaStatus.ON_TRACK
    assert record(retry, "sla").params["status"] == "on_track"


def test_a_retry_timer_while_an_offer_is_pending_does_nothing() -> None:
    """A dispatch timer that finds the incident already offered is moot."""
    run = offered()
    decision = run.on(Dispatch(), (H2, 1))
    assert decision.effects == ()
    assert [o.helper_id for o in run.incident.offers] == [H1]


# ---- the offer lifecycle ------------------------------------------------------------------


def test_an_expired_offer_releases_the_helper_tells_them_and_moves_to_the_next() -> None:
    """Expiry: the helper is released and told, and the next best is offered."""
    run = offered((H1, 5), (H2, 8))
    h1_offer = run.offer_id(H1)
    expired = run.on(OfferExpired(offer_id=h1_offer), (H1, 5), (H2, 8), after=timedelta(seconds=60))
    assert MoveOffer(h1_offer, OfferMove.EXPIRE) in expired.effects
    assert ReleaseHelper(H1) in expired.effects
    assert record(expired, "offer_expired").params["helper_id"] == H1
    assert notices(expired) == [
        (R.HELPER, P.HELPER_OFFER_EXPIRED, H1),
        (R.HELPER, P.HELPER_OFFER, H2),
    ]
    assert run.status_of(H1) == OfferStatus.EXPIRED
    assert run.incident.state == State.OFFERED
    assert run.incident.pending_offers[0].helper_id == H2


def test_a_helper_whose_offer_expired_is_not_asked_again() -> None:
    """After H1 let the offer expire and H2 declined, nobody is left: no third offer to H1."""
    run = offered((H1, 5), (H2, 8))
    run.on(OfferExpired(offer_id=run.offer_id(H1)), (H1, 5), (H2, 8), after=timedelta(seconds=60))
    declined = run.on(Decline(helper_id=H2, actor="helper:2"), (H1, 5), (H2, 8))
    assert run.incident.not_to_ask == {H1, H2}
    assert not of_type(declined, CreateOffer)
    assert "no_candidate" in actions(declined)
    assert run.incident.state == State.OPEN


def test_a_decline_moves_to_the_next_helper_without_telling_the_decliner() -> None:
    """The helper who said no knows; the next is offered; the decliner is never asked again."""
    run = offered((H1, 5), (H2, 8))
    declined = run.on(Decline(helper_id=H1, actor="helper:1"), (H1, 5), (H2, 8))
    assert MoveOffer(run.offer_id(H1), OfferMove.DECLINE) in declined.effects
    assert ReleaseHelper(H1) in declined.effects
    assert actions(declined)[0] == "declined"
    assert notices(declined) == [(R.HELPER, P.HELPER_OFFER, H2)]
    assert run.status_of(H1) == OfferStatus.DECLINED


def test_an_expiry_timer_for_an_answered_offer_is_moot() -> None:
    """An offer accepted before its timer fired stays accepted; the timer does nothing."""
    run = assigned()
    decision = run.on(OfferExpired(offer_id=run.offer_id(H1)), after=timedelta(seconds=30))
    assert decision.effects == ()
    assert run.incident.state == State.ASSIGNED


def test_a_helper_whose_offer_was_withdrawn_may_be_asked_again() -> None:
    """H1's offer withdrawn by a hand assignment was no fault of H1: H1 is offered next time."""
    run = offered((H1, 5))
    run.on(AssignByHand(helper_id=H2, eta=6 * MIN, actor=OPERATOR))
    assert run.status_of(H1) == OfferStatus.WITHDRAWN
    assert run.incident.not_to_ask == {H2}
    again = run.on(Withdraw(reason="车坏了", actor=OPERATOR), (H2, 6), (H1, 5))
    assert [c.helper_id for c in of_type(again, CreateOffer)] == [H1]


def test_a_declined_helper_is_not_offered_even_if_ranked_first() -> None:
    """The matcher's first candidate is skipped if that helper already said no."""
    run = offered((H1, 5))
    run.on(Decline(helper_id=H1, actor="helper:1"), (H1, 5), (H2, 9))
    assert run.incident.pending_offers[0].helper_id == H2


# ---- accepting ----------------------------------------------------------------------------


def test_accepting_sets_the_helper_on_the_way_and_tells_device_and_family() -> None:
    """Accept: assigned, the ETA from now, the device and family told, on track."""
    run = assigned()
    accepted = run.last
    now = T0 + timedelta(seconds=30)
    assert run.incident.state == State.ASSIGNED
    assert (run.incident.assigned_helper_id, run.incident.accepted_at) == (H1, now)
    assert run.incident.eta_at == now + 5 * MIN
    assert MoveOffer(run.offer_id(H1), OfferMove.ACCEPT) in accepted.effects
    assert record(accepted, "accepted").params == {"helper_id": H1, "eta_at": now + 5 * MIN}
    assert notices(accepted) == [
        (R.DEVICE, P.DEVICE_ON_THE_WAY, None),
        (R.FAMILY, P.FAMILY_ON_THE_WAY, None),
    ]
    assert all(n.facts["helper_id"] == H1 for n in of_type(accepted, Notify))
    assert run.incident.sla_status == SlaStatus.ON_TRACK


def test_accepting_with_an_eta_after_the_deadline_is_at_risk() -> None:
    """A helper who accepts but will be late puts the incident at risk at once."""
    run = offered((H1, 5))
    run.on(Accept(helper_id=H1, eta=20 * MIN, actor="helper:1"))
    assert (run.incident.sla_status, run.incident.sla_code) == (
        SlaStatus.AT_RISK,
        "eta_after_deadline",
    )
    assert run.incident.escalation_level == Level.OPERATOR


def test_a_second_accept_is_a_conflict() -> None:
    """Accepting twice (a double tap) is refused; the first acceptance stands."""
    run = assigned()
    with pytest.raises(Conflict):
        run.on(Accept(helper_id=H1, eta=5 * MIN, actor="helper:1"))


def test_accepting_without_a_pending_offer_is_a_conflict() -> None:
    """A helper who was never offered, or whose offer expired, cannot accept."""
    run = offered((H1, 5), (H2, 8))
    with pytest.raises(Conflict):
        run.on(Accept(helper_id=H2, eta=8 * MIN, actor="helper:2"))
    run.on(OfferExpired(offer_id=run.offer_id(H1)), (H2, 8), after=timedelta(seconds=60))
    with pytest.raises(Conflict):
        run.on(Accept(helper_id=H1, eta=5 * MIN, actor="helper:1"))


def test_declining_without_a_pending_offer_is_a_conflict() -> None:
    """A decline after the offer was accepted is refused."""
    run = assigned()
    with pytest.raises(Conflict):
        run.on(Decline(helper_id=H1, actor="helper:1"))


# ---- assigning by hand --------------------------------------------------------------------


def test_assigning_by_hand_from_open_records_an_accepted_manual_offer() -> None:
    """An operator's choice needs no offer round: a manual offer, the helper reserved and told."""
    run = Run.open()  # nobody free
    assigned_ = run.on(AssignByHand(helper_id=H3, eta=7 * MIN, actor=OPERATOR), after=MIN)
    now = T0 + MIN
    assert CreateOffer(H3, now, 420, 0.0, manual=True) in assigned_.effects
    assert ReserveHelper(H3) in assigned_.effects
    assert run.incident.state == State.ASSIGNED
    assert run.incident.assigned_helper_id == H3
    assert run.status_of(H3) == OfferStatus.ACCEPTED
    assert record(assigned_, "assigned_by_operator").actor == OPERATOR
    assert notices(assigned_) == [
        (R.HELPER, P.HELPER_ASSIGNED, H3),
        (R.DEVICE, P.DEVICE_ON_THE_WAY, None),
        (R.FAMILY, P.FAMILY_ON_THE_WAY, None),
    ]
    assert run.incident.sla_status == SlaStatus.ON_TRACK  # no longer without a candidate


def test_assigning_by_hand_while_offered_to_someone_else_releases_and_tells_them() -> None:
    """The helper whose offer is overridden is released and told it was withdrawn."""
    run = offered((H1, 5))
    h1_offer = run.offer_id(H1)
    decision = run.on(AssignByHand(helper_id=H2, eta=6 * MIN, actor=OPERATOR))
    assert MoveOffer(h1_offer, OfferMove.WITHDRAW) in decision.effects
    assert ReleaseHelper(H1) in decision.effects
    withdrawn = [n for n in of_type(decision, Notify) if n.purpose == P.HELPER_OFFER_WITHDRAWN]
    assert [(n.helper_id, n.facts["reason"]) for n in withdrawn] == [(H1, "reassigned")]
    assert run.incident.assigned_helper_id == H2
    assert notices(decision)[1:] == [
        (R.HELPER, P.HELPER_ASSIGNED, H2),
        (R.DEVICE, P.DEVICE_ON_THE_WAY, None),
        (R.FAMILY, P.FAMILY_ON_THE_WAY, None),
    ]


def test_assigning_by_hand_the_helper_already_offered_accepts_their_offer() -> None:
    """Assigning the offered helper by hand accepts their offer: no new offer, nobody stood down."""
    run = offered((H1, 5))
    decision = run.on(AssignByHand(helper_id=H1, eta=5 * MIN, actor=OPERATOR))
    assert not of_type(decision, CreateOffer)
    assert not of_type(decision, ReleaseHelper)
    assert MoveOffer(run.offer_id(H1), OfferMove.ACCEPT) in decision.effects
    assert [o.status for o in run.incident.offers] == [OfferStatus.ACCEPTED]
    assert P.HELPER_OFFER_WITHDRAWN not in {p for _, p, _ in notices(decision)}


def test_assigning_by_hand_over_an_assigned_helper_is_a_conflict() -> None:
    """To replace an assigned helper the operator withdraws them first (the timeline says who)."""
    run = assigned()
    with pytest.raises(Conflict):
        run.on(AssignByHand(helper_id=H2, eta=5 * MIN, actor=OPERATOR))


# ---- withdrawing the assigned helper ------------------------------------------------------


def test_withdrawing_stands_the_helper_down_tells_the_family_and_redispatches() -> None:
    """Withdraw: the helper released and told, the family told, the next helper offered."""
    run = assigned()
    decision = run.on(Withdraw(reason="电话联系不上", actor=OPERATOR), (H1, 5), (H2, 8), after=MIN)
    assert ReleaseHelper(H1) in decision.effects
    assert MoveOffer(run.offer_id(H1), OfferMove.RELEASE) in decision.effects
    assert record(decision, "helper_withdrawn").params == {
        "helper_id": H1,
        "reason": "电话联系不上",
    }
    assert notices(decision) == [
        (R.HELPER, P.HELPER_STOOD_DOWN, H1),
        (R.DEVICE, P.DEVICE_HELPER_CHANGED, None),
        (R.FAMILY, P.FAMILY_HELPER_CHANGED, None),
        (R.HELPER, P.HELPER_OFFER, H2),
    ]
    assert run.incident.state == State.OFFERED
    assert (run.incident.assigned_helper_id, run.incident.eta_at) == (None, None)
    assert run.status_of(H1) == OfferStatus.RELEASED


def test_withdrawing_without_redispatch_leaves_the_incident_open_for_a_hand_assignment() -> None:
    """With redispatch off nobody is offered: the operator is about to assign by hand."""
    run = assigned()
    decision = run.on(Withdraw(reason="改派", actor=OPERATOR, redispatch=False), (H2, 3))
    assert run.incident.state == State.OPEN
    assert not of_type(decision, CreateOffer)
    assert notices(decision) == [
        (R.HELPER, P.HELPER_STOOD_DOWN, H1),
        (R.DEVICE, P.DEVICE_HELPER_CHANGED, None),
        (R.FAMILY, P.FAMILY_HELPER_CHANGED, None),
    ]


def test_withdrawing_a_pending_offer_is_a_conflict() -> None:
    """Withdraw is for an assigned helper; a pending offer is overridden by assigning by hand."""
    run = offered()
    with pytest.raises(Conflict):
        run.on(Withdraw(reason="x", actor=OPERATOR))


def test_withdrawing_and_redispatching_to_a_late_helper_stays_at_risk() -> None:
    """After a withdraw, an offer to a helper who will be late keeps the incident at risk."""
    run = assigned()
    decision = run.on(Withdraw(reason="车坏了", actor=OPERATOR), (H2, 20), after=MIN)
    assert run.incident.state == State.OFFERED
    assert [r.params["status"] for r in of_type(decision, Record) if r.action == "sla"] == [
        "at_risk"
    ]
    assert (run.incident.sla_status, run.incident.sla_code) == (
        SlaStatus.AT_RISK,
        "eta_after_deadline",
    )


# ---- arriving -----------------------------------------------------------------------------


def test_arrival_puts_the_helper_on_scene_and_tells_device_and_family() -> None:
    """The assigned helper checks in: on scene, minutes after the call, promise met."""
    run = on_scene()
    arrived = run.last
    assert run.incident.state == State.ON_SCENE
    assert run.incident.arrived_at == T0 + 6 * MIN
    assert record(arrived, "arrived").params == {"helper_id": H1, "minutes_after_call": 6.0}
    assert notices(arrived) == [
        (R.DEVICE, P.DEVICE_ARRIVED, None),
        (R.FAMILY, P.FAMILY_ARRIVED, None),
    ]
    assert of_type(arrived, Notify)[0].facts == {"arrived_helper_id": H1}
    assert run.incident.sla_status == SlaStatus.MET


def test_an_operator_may_check_the_assigned_helper_in() -> None:
    """An arrival without a helper id (an operator on the phone) is the assigned helper's."""
    run = assigned()
    run.on(Arrive(helper_id=None, actor=OPERATOR), after=4 * MIN)
    assert run.incident.state == State.ON_SCENE
    assert record(run.last, "arrived").params["helper_id"] == H1


def test_arrival_by_a_helper_who_is_not_assigned_is_a_conflict() -> None:
    """Only the assigned helper checks in."""
    run = assigned(H1)
    with pytest.raises(Conflict):
        run.on(Arrive(helper_id=H2, actor="helper:2"))


def test_arrival_before_anyone_is_assigned_is_a_conflict() -> None:
    """Nobody can be on scene while the incident is still only offered."""
    run = offered()
    with pytest.raises(Conflict):
        run.on(Arrive(helper_id=None, actor=OPERATOR))


def test_a_late_arrival_is_breached_but_escalates_nobody() -> None:
    """Arriving after the deadline breaches the promise; escalation stops once on scene."""
    run = assigned()
    arrived = run.on(Arrive(helper_id=H1, actor="helper:1"), after=16 * MIN)
    assert (run.incident.sla_status, run.incident.sla_code) == (
        SlaStatus.BREACHED,
        "arrived_late",
    )
    assert not [t for t in of_type(arrived, ArmTimer) if t.kind == TimerKind.ESCALATION]
    assert "escalated" not in actions(arrived)


# ---- closing ------------------------------------------------------------------------------


def test_resolving_before_the_helper_is_on_scene_is_a_conflict() -> None:
    """The promise is a helper on scene: an assigned incident cannot be resolved."""
    run = assigned()
    with pytest.raises(Conflict):
        run.on(Resolve(helper_id=H1, outcome="电话安抚", actor="helper:1"))


def test_resolving_by_an_operator_tells_the_helper_and_the_family() -> None:
    """An operator's closing is news to the helper on scene, who is told and released."""
    run = on_scene()
    resolved = run.on(Resolve(helper_id=None, outcome="已送医", actor=OPERATOR), after=20 * MIN)
    assert run.incident.state == State.RESOLVED
    assert (run.incident.outcome, run.incident.closed_at) == ("已送医", T0 + 26 * MIN)
    assert ReleaseHelper(H1) in resolved.effects
    assert record(resolved, "resolved").params == {"outcome": "已送医"}
    assert notices(resolved) == [
        (R.HELPER, P.HELPER_CLOSED, H1),
        (R.FAMILY, P.FAMILY_CLOSED, None),
    ]
    assert of_type(resolved, Notify)[1].facts["outcome"] == "已送医"


def test_resolving_by_the_helper_tells_only_the_family() -> None:
    """The helper who closed the incident is not texted about their own closing."""
    run = on_scene()
    resolved = run.on(Resolve(helper_id=H1, outcome="已处置", actor="helper:1"), after=10 * MIN)
    assert ReleaseHelper(H1) in resolved.effects
    assert notices(resolved) == [(R.FAMILY, P.FAMILY_CLOSED, None)]


def test_resolving_by_a_helper_who_is_not_assigned_is_a_conflict() -> None:
    """Another helper cannot close someone else's incident."""
    run = on_scene()
    with pytest.raises(Conflict):
        run.on(Resolve(helper_id=H2, outcome="x", actor="helper:2"))


def test_a_false_alarm_while_offered_withdraws_the_offer_and_tells_the_family() -> None:
    """Cancelled while offered: the offered helper is released and told; the family told."""
    run = offered()
    h1_offer = run.offer_id(H1)
    decision = run.on(FalseAlarm(actor=OPERATOR, note="老人误触"), after=MIN)
    assert run.incident.state == State.CANCELLED
    assert (run.incident.outcome, run.incident.closed_at) == ("false alarm", T0 + MIN)
    assert MoveOffer(h1_offer, OfferMove.WITHDRAW) in decision.effects
    assert ReleaseHelper(H1) in decision.effects
    assert notices(decision) == [
        (R.HELPER, P.HELPER_OFFER_WITHDRAWN, H1),
        (R.DEVICE, P.DEVICE_CANCELLED, None),
        (R.FAMILY, P.FAMILY_FALSE_ALARM, None),
    ]
    assert of_type(decision, Notify)[0].facts["reason"] == "false_alarm"
    assert record(decision, "false_alarm").params == {"note": "老人误触"}
    assert run.incident.sla_status == SlaStatus.CLOSED_UNMEASURED


def test_a_false_alarm_while_assigned_stands_the_helper_down_and_tells_the_family() -> None:
    """Cancelled after acceptance: the helper on the way is released and stood down."""
    run = assigned()
    decision = run.on(FalseAlarm(actor=OPERATOR), after=MIN)
    assert run.incident.state == State.CANCELLED
    assert ReleaseHelper(H1) in decision.effects
    assert notices(decision) == [
        (R.HELPER, P.HELPER_STOOD_DOWN, H1),
        (R.DEVICE, P.DEVICE_CANCELLED, None),
        (R.FAMILY, P.FAMILY_FALSE_ALARM, None),
    ]


def test_a_false_alarm_tells_the_assigned_helper_it_was_a_false_alarm() -> None:
    """The stood-down notice to the assigned helper carries the reason: a false alarm."""
    run = assigned()
    decision = run.on(FalseAlarm(actor=OPERATOR), after=MIN)
    (stood_down,) = [n for n in of_type(decision, Notify) if n.purpose == P.HELPER_STOOD_DOWN]
    assert stood_down.facts.get("reason") == "false_alarm"


@pytest.mark.parametrize("closing", ["resolved", "cancelled"])
def test_closing_a_closed_incident_again_is_a_conflict(closing: str) -> None:
    """A closed incident cannot be closed, cancelled or changed by a person again."""
    run = on_scene()
    if closing == "resolved":
        run.on(Resolve(helper_id=H1, outcome="ok", actor="helper:1"))
    else:
        run.on(FalseAlarm(actor=OPERATOR))
    for event in (
        FalseAlarm(actor=OPERATOR),
        Resolve(helper_id=None, outcome="x", actor=OPERATOR),
        DeviceCancel(actor=f"device:{DEVICE}"),
        RepeatPress(summary="SOS", actor=f"device:{DEVICE}"),
        EscalateByHand(level=Level.SUPERVISOR, actor=OPERATOR),
        AssignByHand(helper_id=H2, eta=MIN, actor=OPERATOR),
    ):
        with pytest.raises(Conflict):
            decide(run.incident, event, run.now, CONFIG)


MOOT: list[Event] = [
    Dispatch(),
    OfferExpired(offer_id=100),
    Reassess(),
    Escalate(level=Level.EMERGENCY_SERVICES),
    HelperMoved(helper_id=H1, eta=MIN, actor=SYSTEM),
]


@pytest.mark.parametrize("event", MOOT, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("closing", ["resolved", "cancelled"])
def test_clocks_and_reports_on_a_closed_incident_are_moot(event: Event, closing: str) -> None:
    """Timers and position reports that come after closure change and tell nothing."""
    run = offered()
    if closing == "resolved":
        run = on_scene()
        run.on(Resolve(helper_id=H1, outcome="ok", actor="helper:1"))
    else:
        run.on(FalseAlarm(actor=OPERATOR))
    before = run.incident
    decision = run.on(event, (H2, 1), after=20 * MIN)
    assert decision.effects == ()
    assert decision.incident == before


# ---- the device ---------------------------------------------------------------------------


def test_a_device_cancel_flags_the_incident_and_closes_nothing() -> None:
    """A cancel from a watch is flagged for an operator; the helper keeps going."""
    run = assigned()
    decision = run.on(DeviceCancel(actor=f"device:{DEVICE}"))
    assert run.incident.state == State.ASSIGNED
    assert run.incident.cancel_requested
    assert actions(decision) == ["device_cancelled"]
    assert not of_type(decision, Notify)


def test_a_repeat_press_joins_the_open_incident() -> None:
    """Another press while open is recorded on the same incident; nothing else changes."""
    run = offered()
    decision = run.on(RepeatPress(summary="SOS again", actor=f"device:{DEVICE}"))
    assert run.incident.state == State.OFFERED
    assert decision.effects == (
        Record(f"device:{DEVICE}", "repeat_press", {"summary": "SOS again"}),
    )


def test_device_alarms_are_recorded_under_their_own_action() -> None:
    """Alarms and abnormal vitals on an open incident go on its timeline, nothing else."""
    run = assigned()
    decision = run.on(
        DeviceAlarm(action="abnormal_vitals", items=("心率 150",), actor=f"device:{DEVICE}")
    )
    assert decision.effects == (
        Record(f"device:{DEVICE}", "abnormal_vitals", {"items": ["心率 150"]}),
    )


# ---- escalation ---------------------------------------------------------------------------


def test_the_accept_check_with_nobody_accepting_alerts_the_operators() -> None:
    """Five minutes without an acceptance: at risk (not_accepted), operator level, no SMS."""
    run = Run.open((H1, 5), defer_dispatch=True)  # never dispatched: still open
    check = run.on(Reassess(), after=5 * MIN)
    assert (run.incident.sla_status, run.incident.sla_code) == (
        SlaStatus.AT_RISK,
        "not_accepted",
    )
    assert ArmTimer(TimerKind.ESCALATION, T0 + 5 * MIN, int(Level.OPERATOR)) in check.effects
    assert run.incident.escalation_level == Level.OPERATOR
    assert not of_type(check, Notify)


def test_a_breach_pages_the_supervisors_and_schedules_120() -> None:
    """At the deadline with nobody on scene: supervisor at once, 120 five minutes later."""
    run = assigned(eta_min=10)
    breach = run.on(Reassess(), after=14 * MIN + timedelta(seconds=31))  # 1 s past the deadline
    now = run.now
    assert (run.incident.sla_status, run.incident.sla_code) == (
        SlaStatus.BREACHED,
        "deadline_passed",
    )
    timers = [(t.due_at, t.ref) for t in of_type(breach, ArmTimer)]
    assert timers == [
        (now, int(Level.SUPERVISOR)),
        (now + 5 * MIN, int(Level.EMERGENCY_SERVICES)),
    ]
    assert breach.incident.escalation_level == Level.SUPERVISOR
    assert notices(breach) == [(R.SUPERVISORS, P.ESCALATION, None)]
    assert of_type(breach, Notify)[0].facts == {"level": "supervisor", "code": "deadline_passed"}
    to_120 = run.on(Escalate(level=Level.EMERGENCY_SERVICES), after=5 * MIN)
    assert to_120.incident.escalation_level == Level.EMERGENCY_SERVICES
    assert notices(to_120) == [(R.SUPERVISORS, P.ESCALATION, None)]
    assert record(to_120, "escalated").params == {
        "level": "emergency_services",
        "code": "deadline_passed",
    }


def test_the_deadline_timer_fired_on_time_sees_the_breach() -> None:
    """A helper still not on scene when the deadline timer fires is a breach, paged at once."""
    run = assigned()
    (deadline_timer,) = [
        t for t in of_type(run.decisions[0], ArmTimer) if t.kind == TimerKind.DEADLINE
    ]
    run.at(deadline_timer.due_at).on(Reassess())
    assert run.incident.sla_status == SlaStatus.BREACHED
    assert run.incident.escalation_level == Level.SUPERVISOR


def test_a_late_general_request_is_not_sent_to_120() -> None:
    """General help past its deadline goes to the supervisor, never to emergency services."""
    run = offered((H1, 5), category=Category.GENERAL, kind="request", summary="买菜")
    breach = run.on(Reassess(), after=31 * MIN)
    assert [t.ref for t in of_type(breach, ArmTimer)] == [int(Level.SUPERVISOR)]


def test_an_escalation_timer_after_arrival_does_nothing() -> None:
    """Escalation stops once a helper is on scene."""
    run = on_scene()
    assert run.on(Escalate(level=Level.SUPERVISOR)).effects == ()
    assert run.incident.escalation_level == Level.NONE


def test_an_escalation_timer_at_a_level_already_reached_does_nothing() -> None:
    """Escalation only goes up: a step at or below the current level is moot."""
    run = Run.open()  # no candidate: operator level at once
    assert run.on(Escalate(level=Level.OPERATOR), after=MIN).effects == ()


def test_a_delayed_at_risk_step_does_not_fire_once_back_on_track() -> None:
    """With a ladder that pages supervisors 2 min into at risk, an acceptance in time cancels it."""
    ladder = (EscalationStep(Level.SUPERVISOR, SlaStatus.AT_RISK, 2 * MIN, frozenset(Category)),)
    config = CoreConfig(display_tz=SHANGHAI, ladder=ladder)
    run = Run.open((H1, 20), config=config)  # the only helper is late: at risk
    assert ArmTimer(TimerKind.ESCALATION, T0 + 2 * MIN, int(Level.SUPERVISOR)) in (
        run.decisions[0].effects
    )
    run.on(Accept(helper_id=H1, eta=5 * MIN, actor="helper:1"), after=timedelta(seconds=30))
    assert run.incident.sla_status == SlaStatus.ON_TRACK  # the helper was closer than thought
    late_step = run.on(Escalate(level=Level.SUPERVISOR), after=timedelta(seconds=90))
    assert late_step.effects == ()


def test_escalating_by_hand_to_the_supervisor_pages_them() -> None:
    """An operator escalates at once; supervisors are told, the note kept."""
    run = assigned()
    decision = run.on(EscalateByHand(level=Level.SUPERVISOR, actor=OPERATOR, note="老人无应答"))
    assert run.incident.escalation_level == Level.SUPERVISOR
    assert record(decision, "escalated").params == {
        "level": "supervisor",
        "note": "老人无应答",
        "by_hand": True,
    }
    assert notices(decision) == [(R.SUPERVISORS, P.ESCALATION, None)]


def test_escalating_by_hand_to_the_operator_level_pages_nobody() -> None:
    """The operator level is the console's own alert: no SMS."""
    run = assigned()
    decision = run.on(EscalateByHand(level=Level.OPERATOR, actor=OPERATOR))
    assert run.incident.escalation_level == Level.OPERATOR
    assert not of_type(decision, Notify)


@pytest.mark.parametrize("level", [Level.OPERATOR, Level.SUPERVISOR])
def test_escalating_by_hand_downwards_or_sideways_is_a_conflict(level: Level) -> None:
    """An incident already at supervisor level cannot be escalated to it, or below it, again."""
    run = assigned()
    run.on(EscalateByHand(level=Level.SUPERVISOR, actor=OPERATOR))
    with pytest.raises(Conflict):
        run.on(EscalateByHand(level=level, actor=OPERATOR))


# ---- the assigned helper moving -----------------------------------------------------------


def test_the_assigned_helper_falling_behind_puts_the_incident_at_risk() -> None:
    """A position report whose new ETA is after the deadline is at risk."""
    run = assigned()
    moved = run.on(HelperMoved(helper_id=H1, eta=14 * MIN, actor=SYSTEM), after=2 * MIN)
    assert run.incident.eta_at == run.now + 14 * MIN
    assert run.incident.sla_status == SlaStatus.AT_RISK
    assert record(moved, "sla").params["eta_at"] == run.now + 14 * MIN


@pytest.mark.parametrize("helper_id", [H2, H1], ids=["another helper", "while only offered"])
def test_other_position_reports_change_nothing(helper_id: int) -> None:
    """Only the assigned helper's position moves the ETA."""
    run = assigned() if helper_id == H2 else offered()
    assert run.on(HelperMoved(helper_id=helper_id, eta=30 * MIN, actor=SYSTEM)).effects == ()


# ---- when the shell must rank helpers -----------------------------------------------------


def test_needs_candidates_only_when_the_decision_may_offer() -> None:
    """The shell ranks helpers only for events that can lead to an offer."""
    fresh = offered()
    assert needs_candidates(None, new_incident())
    assert not needs_candidates(None, new_incident(defer_dispatch=True))
    assert not needs_candidates(None, new_incident(lat=None, lon=None))
    assert needs_candidates(fresh.incident, OfferExpired(offer_id=fresh.offer_id(H1)))
    assert not needs_candidates(fresh.incident, OfferExpired(offer_id=999))
    assert needs_candidates(fresh.incident, Decline(helper_id=H1, actor="helper:1"))
    assert not needs_candidates(fresh.incident, Dispatch())  # already offered
    waiting = Run.open()
    assert needs_candidates(waiting.incident, Dispatch())
    nowhere = Run.open(lat=None, lon=None)
    assert not needs_candidates(nowhere.incident, Dispatch())
    going = assigned()
    assert needs_candidates(going.incident, Withdraw(reason="x", actor=OPERATOR))
    assert not needs_candidates(
        going.incident, Withdraw(reason="x", actor=OPERATOR, redispatch=False)
    )
    assert not needs_candidates(going.incident, Accept(helper_id=H1, eta=MIN, actor="helper:1"))


def test_a_hand_assignment_without_a_known_position_promises_no_time() -> None:
    """Assigned by phone with no fresh position: on the way, but nobody is told an arrival time."""
    run = offered()
    decision = run.on(AssignByHand(helper_id=H3, eta=None, actor=OPERATOR))
    assert decision.incident.eta_at is None
    told = [n for n in of_type(decision, Notify) if n.recipient == R.FAMILY]
    assert told and all(n.facts.get("eta_at") is None for n in told)
