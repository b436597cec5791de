"""The incident state machine, checked pair by pair against an independent expected table."""

from __future__ import annotations

import itertools

import pytest

from sla import (
    AWAITING_ARRIVAL_STATES,
    OPEN_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    Event,
    InvalidTransition,
    SlaError,
    State,
    allowed_events,
    is_terminal,
    transition,
)

S = State
E = Event

# Written out by hand, not derived from sla.TRANSITIONS: this is the specification.
EXPECTED: dict[tuple[State, Event], State] = {
    (S.OPEN, E.OFFER): S.OFFERED,
    (S.OPEN, E.ASSIGN): S.ASSIGNED,
    (S.OPEN, E.REPEAT_PRESS): S.OPEN,
    (S.OPEN, E.DEVICE_CANCEL): S.OPEN,
    (S.OPEN, E.CONFIRM_FALSE_ALARM): S.CANCELLED,
    (S.OFFERED, E.OFFER_EXPIRED): S.OPEN,
    (S.OFFERED, E.DECLINE): S.OPEN,
    (S.OFFERED, E.ACCEPT): S.ASSIGNED,
    (S.OFFERED, E.ASSIGN): S.ASSIGNED,
    (S.OFFERED, E.REPEAT_PRESS): S.OFFERED,
    (S.OFFERED, E.DEVICE_CANCEL): S.OFFERED,
    (S.OFFERED, E.CONFIRM_FALSE_ALARM): S.CANCELLED,
    (S.ASSIGNED, E.ARRIVE): S.ON_SCENE,
    (S.ASSIGNED, E.REASSIGN): S.OPEN,
    (S.ASSIGNED, E.REPEAT_PRESS): S.ASSIGNED,
    (S.ASSIGNED, E.DEVICE_CANCEL): S.ASSIGNED,
    (S.ASSIGNED, E.CONFIRM_FALSE_ALARM): S.CANCELLED,
    (S.ON_SCENE, E.RESOLVE): S.RESOLVED,
    (S.ON_SCENE, E.REPEAT_PRESS): S.ON_SCENE,
    (S.ON_SCENE, E.DEVICE_CANCEL): S.ON_SCENE,
    (S.ON_SCENE, E.CONFIRM_FALSE_ALARM): S.CANCELLED,
}

# The refusals that matter most, each with the reason it is refused.
NOTABLE_REFUSALS: list[tuple[State, Event, str]] = [
    (S.OPEN, E.ACCEPT, "nobody was offered the incident"),
    (S.OPEN, E.DECLINE, "nobody was offered the incident"),
    (S.OPEN, E.OFFER_EXPIRED, "stale timer: the offer was already answered"),
    (S.OPEN, E.ARRIVE, "arrival before anyone accepted"),
    (S.OPEN, E.RESOLVE, "closing without a helper on scene"),
    (S.OPEN, E.REASSIGN, "no helper to withdraw"),
    (S.OFFERED, E.OFFER, "one offer at a time"),
    (S.OFFERED, E.ARRIVE, "arrival before accepting"),
    (S.OFFERED, E.REASSIGN, "a pending offer is not an assignment"),
    (S.ASSIGNED, E.RESOLVE, "resolving by phone would hide a missing arrival"),
    (S.ASSIGNED, E.ACCEPT, "a second accept"),
    (S.ASSIGNED, E.ASSIGN, "replace a helper with REASSIGN then ASSIGN"),
    (S.ASSIGNED, E.OFFER_EXPIRED, "stale timer after the helper accepted"),
    (S.ON_SCENE, E.ARRIVE, "a second arrival"),
    (S.ON_SCENE, E.REASSIGN, "the arrival is on record; more help is a new incident"),
    (S.RESOLVED, E.REPEAT_PRESS, "a press after closure is a new incident"),
    (S.RESOLVED, E.CONFIRM_FALSE_ALARM, "closed incidents stay closed"),
    (S.CANCELLED, E.RESOLVE, "closed incidents stay closed"),
    (S.CANCELLED, E.REPEAT_PRESS, "a press after closure is a new incident"),
]

ALL_PAIRS = list(itertools.product(State, Event))


def _pair_id(pair: tuple[State, Event]) -> str:
    return f"{pair[0]}+{pair[1]}"


@pytest.mark.parametrize(("state", "event", "target"), [(*k, v) for k, v in EXPECTED.items()])
def test_allowed_transition_reaches_its_target(state: State, event: Event, target: State) -> None:
    """Each allowed (state, event) pair moves the incident to the expected state."""
    assert transition(state, event) is target


@pytest.mark.parametrize(("state", "event", "why"), NOTABLE_REFUSALS)
def test_notable_refusals_raise(state: State, event: Event, why: str) -> None:
    """Transitions the design forbids raise InvalidTransition naming the state and event."""
    with pytest.raises(InvalidTransition) as caught:
        transition(state, event)
    assert (caught.value.state, caught.value.event) == (state, event), why


@pytest.mark.parametrize("pair", ALL_PAIRS, ids=_pair_id)
def test_every_pair_of_the_cross_product_is_specified(pair: tuple[State, Event]) -> None:
    """Every State × Event pair either reaches the expected target or raises InvalidTransition."""
    state, event = pair
    if pair in EXPECTED:
        assert transition(state, event) is EXPECTED[pair]
    else:
        with pytest.raises(InvalidTransition):
            transition(state, event)


def test_table_holds_exactly_the_expected_pairs() -> None:
    """The module's table has no entry beyond the specification and misses none."""
    assert dict(TRANSITIONS) == EXPECTED


def test_table_is_read_only() -> None:
    """The transition table cannot be changed at run time."""
    with pytest.raises(TypeError):
        TRANSITIONS[(S.RESOLVED, E.OFFER)] = S.OPEN  # type: ignore[index]


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
@pytest.mark.parametrize("event", list(Event))
def test_nothing_leaves_a_terminal_state(state: State, event: Event) -> None:
    """RESOLVED and CANCELLED refuse every event."""
    with pytest.raises(InvalidTransition):
        transition(state, event)


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
@pytest.mark.parametrize("event", [E.REPEAT_PRESS, E.DEVICE_CANCEL])
def test_repeat_press_and_device_cancel_leave_open_states_unchanged(
    state: State, event: Event
) -> None:
    """A repeat press joins and a device cancel only flags: the state never moves."""
    assert transition(state, event) is state


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_operator_can_confirm_a_false_alarm_from_every_open_state(state: State) -> None:
    """CONFIRM_FALSE_ALARM cancels the incident from any open state."""
    assert transition(state, E.CONFIRM_FALSE_ALARM) is S.CANCELLED


def test_only_confirm_false_alarm_leads_to_cancelled() -> None:
    """No device or helper event can cancel an incident; only an operator's confirmation."""
    into_cancelled = {event for (_, event), target in TRANSITIONS.items() if target is S.CANCELLED}
    assert into_cancelled == {E.CONFIRM_FALSE_ALARM}


def test_only_resolve_from_on_scene_leads_to_resolved() -> None:
    """An incident is resolved only after a helper checked in on scene."""
    into_resolved = [pair for pair, target in TRANSITIONS.items() if target is S.RESOLVED]
    assert into_resolved == [(S.ON_SCENE, E.RESOLVE)]


def test_state_sets() -> None:
    """Open states are exactly the non-terminal ones, and awaiting arrival excludes ON_SCENE."""
    assert {S.RESOLVED, S.CANCELLED} == TERMINAL_STATES
    assert {S.OPEN, S.OFFERED, S.ASSIGNED, S.ON_SCENE} == OPEN_STATES
    assert {S.OPEN, S.OFFERED, S.ASSIGNED} == AWAITING_ARRIVAL_STATES
    assert all(is_terminal(s) for s in TERMINAL_STATES)
    assert not any(is_terminal(s) for s in OPEN_STATES)


def test_allowed_events_lists_the_table_per_state() -> None:
    """allowed_events gives the console the buttons that make sense in each state."""
    assert allowed_events(S.ASSIGNED) == {
        E.ARRIVE,
        E.REASSIGN,
        E.REPEAT_PRESS,
        E.DEVICE_CANCEL,
        E.CONFIRM_FALSE_ALARM,
    }
    assert allowed_events(S.RESOLVED) == frozenset()
    for state in State:
        assert allowed_events(state) == {e for (s, e) in EXPECTED if s is state}


def test_values_are_lower_case_strings() -> None:
    """States and events serialise as their lower-case names."""
    assert [s.value for s in State] == [s.name.lower() for s in State]
    assert [e.value for e in Event] == [e.name.lower() for e in Event]
    assert State("on_scene") is S.ON_SCENE
    assert Event("confirm_false_alarm") is E.CONFIRM_FALSE_ALARM


def test_invalid_transition_message_and_tree() -> None:
    """InvalidTransition is an SlaError whose message names the event and the state."""
    with pytest.raises(SlaError) as caught:
        transition(S.OPEN, E.ACCEPT)
    assert isinstance(caught.value, InvalidTransition)
    assert str(caught.value) == "event 'accept' is not allowed for an incident in state 'open'"


def test_typical_emergency_walks_through_the_table() -> None:
    """An offer declined, a second offer accepted, arrival and resolution follow the table."""
    state = S.OPEN
    for event in (E.OFFER, E.DECLINE, E.OFFER, E.REPEAT_PRESS, E.ACCEPT, E.ARRIVE, E.RESOLVE):
        state = transition(state, event)
    assert state is S.RESOLVED
