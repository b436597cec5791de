"""The notification matrix, moment by moment: exactly who is told, and nobody left believing a lie.

The first table drives the core to each ``Moment`` and checks that the decision's ``Notify``
effects for that moment are exactly ``NOTICES[moment]``, addressed to the helper concerned. The
second part walks whole incidents and checks, after every decision, that what each person was
last told is still true: the family does not think someone is coming who is not, and every
helper who was offered or sent knows whether they are still wanted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from dispatcher.core import (
    NOTICES,
    Accept,
    Arrive,
    AssignByHand,
    Decision,
    Decline,
    Dispatch,
    EscalateByHand,
    Event,
    FalseAlarm,
    Moment,
    Notify,
    OfferExpired,
    Purpose,
    Recipient,
    Resolve,
    Withdraw,
)
from sla import Level, State
from tests.dispatcher.core.harness import H1, H2, H3, OPERATOR, Run, of_type

P, R, M = Purpose, Recipient, Moment
MIN = timedelta(minutes=1)


def _offered() -> Run:
    return Run.open((H1, 5), (H2, 8))


def _assigned() -> Run:
    run = _offered()
    run.on(Accept(helper_id=H1, eta=5 * MIN, actor="helper:1"), after=timedelta(seconds=30))
    return run


def _on_scene() -> Run:
    run = _assigned()
    run.on(Arrive(helper_id=H1, actor="helper:1"), after=5 * MIN)
    return run


@dataclass(frozen=True)
class Reach:
    """How to drive an incident to ``moment``: a run to start from, then one event (or none)."""

    moment: Moment
    start: Callable[[], Run]
    event: Event | Callable[[Run], Event] | None
    concerned: int | None  # the helper the HELPER rows must name


def _h1_expired(run: Run) -> Event:
    return OfferExpired(offer_id=run.offer_id(H1))


REACHES = [
    Reach(M.RECEIVED, _offered, None, None),
    Reach(M.OFFERED, _offered, None, H1),
    Reach(M.OFFER_EXPIRED, _offered, _h1_expired, H1),
    Reach(M.OFFER_WITHDRAWN, _offered, AssignByHand(helper_id=H3, eta=4 * MIN, actor=OPERATOR), H1),
    Reach(M.ACCEPTED, _offered, Accept(helper_id=H1, eta=5 * MIN, actor="helper:1"), H1),
    Reach(
        M.ASSIGNED_BY_HAND, _offered, AssignByHand(helper_id=H3, eta=4 * MIN, actor=OPERATOR), H3
    ),
    Reach(M.HELPER_WITHDRAWN, _assigned, Withdraw(reason="电话联系不上", actor=OPERATOR), H1),
    Reach(M.ARRIVED, _assigned, Arrive(helper_id=H1, actor="helper:1"), H1),
    Reach(M.RESOLVED, _on_scene, Resolve(helper_id=None, outcome="已送医", actor=OPERATOR), H1),
    Reach(M.FALSE_ALARM, _assigned, FalseAlarm(actor=OPERATOR), H1),
    Reach(M.ESCALATED, _assigned, EscalateByHand(level=Level.SUPERVISOR, actor=OPERATOR), None),
]


def _reach(reach: Reach) -> Decision:
    run = reach.start()
    if reach.event is None:
        return run.decisions[0]
    event = reach.event(run) if callable(reach.event) else reach.event
    return run.on(event, (H1, 5), (H2, 8), after=MIN)


@pytest.mark.parametrize("reach", REACHES, ids=lambda r: r.moment.value)
def test_each_moment_tells_exactly_its_row_of_the_matrix(reach: Reach) -> None:
    """The Notify effects of a moment are its NOTICES row, in order, to the helper concerned."""
    told = [n for n in of_type(_reach(reach), Notify) if n.moment == reach.moment]
    assert [(n.recipient, n.purpose) for n in told] == list(NOTICES[reach.moment])
    for notice in told:
        expected = reach.concerned if notice.recipient == R.HELPER else None
        assert notice.helper_id == expected


def test_every_moment_is_reached_by_the_table() -> None:
    """The table covers every Moment, and the matrix names a row for each."""
    reached = {n.moment for reach in REACHES for n in of_type(_reach(reach), Notify)} | {
        reach.moment for reach in REACHES
    }
    assert reached == set(Moment)
    assert set(NOTICES) == set(Moment)


def test_every_purpose_is_used_by_the_matrix() -> None:
    """No Purpose is orphaned: each one is sent at some moment."""
    assert {purpose for row in NOTICES.values() for _, purpose in row} == set(Purpose)


def test_a_helper_who_closes_the_incident_is_not_told_of_it() -> None:
    """The one allowed gap in a row: the helper who resolved needs no SMS about it."""
    run = _on_scene()
    decision = run.on(Resolve(helper_id=H1, outcome="ok", actor="helper:1"))
    told = [(n.recipient, n.purpose) for n in of_type(decision, Notify)]
    assert told == [row for row in NOTICES[M.RESOLVED] if row[0] != R.HELPER]


# ---- nobody left believing something untrue --------------------------------------------------

_ENGAGING = {P.HELPER_OFFER, P.HELPER_ASSIGNED}
_RELEASING = {
    P.HELPER_OFFER_EXPIRED,
    P.HELPER_OFFER_WITHDRAWN,
    P.HELPER_STOOD_DOWN,
    P.HELPER_CLOSED,
}


@dataclass
class Beliefs:
    """What each person was last told, updated from Notify effects and their own actions."""

    family: list[Purpose]
    engaged: set[int]  # helpers who believe they are offered or expected

    def learn(self, event: Event | None, decision: Decision) -> None:
        # A helper knows what they did themselves.
        if isinstance(event, Accept):
            self.engaged.add(event.helper_id)
        if isinstance(event, Decline):
            self.engaged.discard(event.helper_id)
        if isinstance(event, Resolve) and event.actor == f"helper:{event.helper_id}":
            self.engaged.discard(event.helper_id or 0)
        for notice in of_type(decision, Notify):
            if notice.recipient == R.FAMILY:
                self.family.append(notice.purpose)
            elif notice.recipient == R.HELPER and notice.helper_id is not None:
                if notice.purpose in _ENGAGING:
                    self.engaged.add(notice.helper_id)
                elif notice.purpose in _RELEASING:
                    self.engaged.discard(notice.helper_id)


def check(run: Run, beliefs: Beliefs) -> None:
    """What everyone was last told is still true of the incident."""
    inc = run.incident
    wanted = {o.helper_id for o in inc.pending_offers}
    if inc.state in (State.ASSIGNED, State.ON_SCENE) and inc.assigned_helper_id is not None:
        wanted.add(inc.assigned_helper_id)
    assert beliefs.engaged == wanted, "a helper is wrongly told they are (not) wanted"
    last = beliefs.family[-1] if beliefs.family else None
    expected_family = {
        State.OPEN: {P.FAMILY_RECEIVED, P.FAMILY_HELPER_CHANGED},
        State.OFFERED: {P.FAMILY_RECEIVED, P.FAMILY_HELPER_CHANGED},
        State.ASSIGNED: {P.FAMILY_ON_THE_WAY},
        State.ON_SCENE: {P.FAMILY_ARRIVED},
        State.RESOLVED: {P.FAMILY_CLOSED},
        State.CANCELLED: {P.FAMILY_FALSE_ALARM},
    }[inc.state]
    assert last in expected_family, f"the family last heard {last} of a {inc.state} incident"
    if last == P.FAMILY_ON_THE_WAY:
        on_the_way = [
            n for d in run.decisions for n in of_type(d, Notify) if n.purpose == P.FAMILY_ON_THE_WAY
        ][-1]
        assert on_the_way.facts["helper_id"] == inc.assigned_helper_id


Step = tuple[Callable[[Run], Event], tuple[tuple[int, float], ...]]
FREE = ((H1, 5), (H2, 8), (H3, 11))


def ev(event: Event) -> Callable[[Run], Event]:
    return lambda _run: event


def expire(helper_id: int) -> Callable[[Run], Event]:
    return lambda run: OfferExpired(offer_id=run.offer_id(helper_id))


STORIES: dict[str, list[Step]] = {
    "expire, accept, withdraw, accept, arrive, operator closes": [
        (expire(H1), FREE),
        (ev(Accept(helper_id=H2, eta=8 * MIN, actor="helper:2")), ()),
        (ev(Withdraw(reason="车坏了", actor=OPERATOR)), FREE),
        (ev(Accept(helper_id=H3, eta=9 * MIN, actor="helper:3")), ()),
        (ev(Arrive(helper_id=H3, actor="helper:3")), ()),
        (ev(Resolve(helper_id=None, outcome="已送医", actor=OPERATOR)), ()),
    ],
    "decline, then assigned by hand over a pending offer, then false alarm": [
        (ev(Decline(helper_id=H1, actor="helper:1")), FREE),
        (ev(AssignByHand(helper_id=H3, eta=4 * MIN, actor=OPERATOR)), ()),
        (ev(FalseAlarm(actor=OPERATOR, note="误触")), ()),
    ],
    "withdraw without redispatch, assign by hand, helper closes": [
        (ev(Accept(helper_id=H1, eta=5 * MIN, actor="helper:1")), ()),
        (ev(Withdraw(reason="改派", actor=OPERATOR, redispatch=False)), ()),
        (ev(AssignByHand(helper_id=H2, eta=6 * MIN, actor=OPERATOR)), ()),
        (ev(Arrive(helper_id=H2, actor="helper:2")), ()),
        (ev(Resolve(helper_id=H2, outcome="已处置", actor="helper:2")), ()),
    ],
    "false alarm while offered": [
        (ev(FalseAlarm(actor=OPERATOR)), ()),
    ],
    "false alarm after acceptance": [
        (ev(Accept(helper_id=H1, eta=5 * MIN, actor="helper:1")), ()),
        (ev(FalseAlarm(actor=OPERATOR)), ()),
    ],
    "withdraw with nobody left, retry, accept": [
        (ev(Accept(helper_id=H1, eta=5 * MIN, actor="helper:1")), ()),
        (ev(Withdraw(reason="摔伤", actor=OPERATOR)), ()),
        (ev(Dispatch()), ((H2, 6),)),
        (ev(Accept(helper_id=H2, eta=6 * MIN, actor="helper:2")), ()),
    ],
    "false alarm on scene": [
        (ev(Accept(helper_id=H1, eta=5 * MIN, actor="helper:1")), ()),
        (ev(Arrive(helper_id=H1, actor="helper:1")), ()),
        (ev(FalseAlarm(actor=OPERATOR, note="老人说按错了")), ()),
    ],
}


@pytest.mark.parametrize("story", list(STORIES), ids=list(STORIES))
def test_after_every_decision_everyone_was_told_the_truth(story: str) -> None:
    """After each step, the family's last message and each helper's standing match the incident."""
    run = _offered()
    beliefs = Beliefs(family=[], engaged=set())
    beliefs.learn(None, run.decisions[0])
    check(run, beliefs)
    for make, helpers in STORIES[story]:
        event = make(run)
        decision = run.on(event, *helpers, after=MIN)
        beliefs.learn(event, decision)
        check(run, beliefs)


def test_after_a_withdraw_the_family_no_longer_hears_on_the_way() -> None:
    """A withdrawn helper's "on the way" is corrected at once, and renewed only by an acceptance."""
    run = _assigned()
    family = [
        n.purpose for d in run.decisions for n in of_type(d, Notify) if n.recipient == R.FAMILY
    ]
    assert family[-1] == P.FAMILY_ON_THE_WAY
    run.on(Withdraw(reason="车坏了", actor=OPERATOR), (H2, 8), after=MIN)
    assert run.incident.state == State.OFFERED  # H2 offered, not yet accepted
    family = [
        n.purpose for d in run.decisions for n in of_type(d, Notify) if n.recipient == R.FAMILY
    ]
    assert family[-1] == P.FAMILY_HELPER_CHANGED
    run.on(Accept(helper_id=H2, eta=8 * MIN, actor="helper:2"), after=MIN)
    (latest,) = [n for n in of_type(run.last, Notify) if n.recipient == R.FAMILY]
    assert (latest.purpose, latest.facts["helper_id"]) == (P.FAMILY_ON_THE_WAY, H2)
