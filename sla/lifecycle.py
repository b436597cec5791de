"""The incident lifecycle: states, events and the one table of transitions between them.

```
            OFFER                 ACCEPT                ARRIVE               RESOLVE
   OPEN ─────────────▶ OFFERED ─────────────▶ ASSIGNED ─────────▶ ON_SCENE ─────────▶ RESOLVED
    ▲ ▲  OFFER_EXPIRED,   │                      │  ▲
    │ └───── DECLINE ─────┘                      │  │ ASSIGN (operator, by hand,
    │                                            │  │         from OPEN or OFFERED)
    └────────────────── REASSIGN ────────────────┘
   CONFIRM_FALSE_ALARM from OPEN, OFFERED, ASSIGNED or ON_SCENE ──▶ CANCELLED
   REPEAT_PRESS and DEVICE_CANCEL leave every non-terminal state where it is
```

Every allowed pair is in `TRANSITIONS`; `transition()` raises `InvalidTransition` for the rest.
The choices worth knowing:

* **No RESOLVE before ON_SCENE.** The promise is a helper *on scene*, so an incident cannot be
  closed by its helper from ASSIGNED (say, after a phone call) or from OPEN: that would close it
  with no arrival on record and hide a missed promise. The helper checks in (ARRIVE), then
  resolves. If help turned out not to be needed, an operator closes it with
  CONFIRM_FALSE_ALARM, which is a person's decision and stays on the timeline.
* **DEVICE_CANCEL never closes anything.** Some watches send SOS when taken off the charger and
  then cancel it, but a real fall can be followed by a confused button press too. The state stays;
  the server flags the incident and an operator decides (CONFIRM_FALSE_ALARM or carry on).
* **REPEAT_PRESS joins the open incident** (state unchanged). In RESOLVED or CANCELLED it is
  refused: a press after closure is a new incident, which the server creates.
* **One offer at a time.** OFFER is refused while OFFERED; the pending offer must expire, be
  declined or be overridden by an operator's ASSIGN first.
* **REASSIGN only from ASSIGNED.** It withdraws the helper who accepted; a pending offer
  (OFFERED) is withdrawn by letting it expire or by ASSIGN. Once a helper is ON_SCENE the arrival
  is on record and the promise settled; further help is a new incident, so REASSIGN is refused.
* **ASSIGN from OPEN or OFFERED only.** To replace an assigned helper, an operator sends REASSIGN
  (back to OPEN) then ASSIGN, so the timeline says who was withdrawn.
* **Stale events are refused, not ignored.** OFFER_EXPIRED after a DECLINE, a second ACCEPT, a
  second ARRIVE: all raise `InvalidTransition`, and the caller decides they are harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from sla.errors import InvalidTransition

__all__ = [
    "AWAITING_ARRIVAL_STATES",
    "OPEN_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "Event",
    "State",
    "allowed_events",
    "is_terminal",
    "transition",
]


class State(StrEnum):
    """Where an incident is in its life."""

    OPEN = "open"
    """Created; searching for a helper."""
    OFFERED = "offered"
    """An offer is pending with one helper."""
    ASSIGNED = "assigned"
    """A helper accepted (or was assigned by hand) and is travelling."""
    ON_SCENE = "on_scene"
    """The helper checked in on arrival."""
    RESOLVED = "resolved"
    """Closed with an outcome."""
    CANCELLED = "cancelled"
    """A false alarm, confirmed by an operator."""


class Event(StrEnum):
    """Something that happens to an incident."""

    OFFER = "offer"
    """The dispatcher offers the incident to one helper."""
    OFFER_EXPIRED = "offer_expired"
    """The pending offer was not answered in time."""
    DECLINE = "decline"
    """The offered helper said no."""
    ACCEPT = "accept"
    """The offered helper said yes."""
    ARRIVE = "arrive"
    """The assigned helper checked in on scene."""
    RESOLVE = "resolve"
    """The helper on scene closed the incident with an outcome."""
    REPEAT_PRESS = "repeat_press"
    """The same elder pressed again while the incident is open: it joins this one."""
    DEVICE_CANCEL = "device_cancel"
    """The device reported a cancel: flagged for an operator, never closed by itself."""
    CONFIRM_FALSE_ALARM = "confirm_false_alarm"
    """An operator confirmed a false alarm."""
    REASSIGN = "reassign"
    """An operator or the helper withdrew the assigned helper."""
    ASSIGN = "assign"
    """An operator assigned a helper by hand."""


_S = State
_E = Event

TRANSITIONS: Mapping[tuple[State, Event], State] = MappingProxyType(
    {
        # OPEN: searching for a helper.
        (_S.OPEN, _E.OFFER): _S.OFFERED,
        (_S.OPEN, _E.ASSIGN): _S.ASSIGNED,
        (_S.OPEN, _E.REPEAT_PRESS): _S.OPEN,
        (_S.OPEN, _E.DEVICE_CANCEL): _S.OPEN,
        (_S.OPEN, _E.CONFIRM_FALSE_ALARM): _S.CANCELLED,
        # OFFERED: one offer pending.
        (_S.OFFERED, _E.OFFER_EXPIRED): _S.OPEN,
        (_S.OFFERED, _E.DECLINE): _S.OPEN,
        (_S.OFFERED, _E.ACCEPT): _S.ASSIGNED,
        (_S.OFFERED, _E.ASSIGN): _S.ASSIGNED,
        (_S.OFFERED, _E.REPEAT_PRESS): _S.OFFERED,
        (_S.OFFERED, _E.DEVICE_CANCEL): _S.OFFERED,
        (_S.OFFERED, _E.CONFIRM_FALSE_ALARM): _S.CANCELLED,
        # ASSIGNED: a helper is travelling.
        (_S.ASSIGNED, _E.ARRIVE): _S.ON_SCENE,
        (_S.ASSIGNED, _E.REASSIGN): _S.OPEN,
        (_S.ASSIGNED, _E.REPEAT_PRESS): _S.ASSIGNED,
        (_S.ASSIGNED, _E.DEVICE_CANCEL): _S.ASSIGNED,
        (_S.ASSIGNED, _E.CONFIRM_FALSE_ALARM): _S.CANCELLED,
        # ON_SCENE: the helper is with the elder.
        (_S.ON_SCENE, _E.RESOLVE): _S.RESOLVED,
        (_S.ON_SCENE, _E.REPEAT_PRESS): _S.ON_SCENE,
        (_S.ON_SCENE, _E.DEVICE_CANCEL): _S.ON_SCENE,
        (_S.ON_SCENE, _E.CONFIRM_FALSE_ALARM): _S.CANCELLED,
        # RESOLVED and CANCELLED are terminal: nothing leaves them.
    }
)

TERMINAL_STATES: frozenset[State] = frozenset({State.RESOLVED, State.CANCELLED})
"""States an incident never leaves."""

OPEN_STATES: frozenset[State] = frozenset(State) - TERMINAL_STATES
"""States of an incident that is not closed yet."""

AWAITING_ARRIVAL_STATES: frozenset[State] = frozenset({State.OPEN, State.OFFERED, State.ASSIGNED})
"""Open states in which nobody is on scene yet: the ones escalation is for."""


def transition(state: State, event: Event) -> State:
    """The state after `event`, or `InvalidTransition` if the table does not allow it."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(state, event) from None


def allowed_events(state: State) -> frozenset[Event]:
    """Every event the table accepts in `state` (empty for terminal states)."""
    return frozenset(event for (source, event) in TRANSITIONS if source == state)


def is_terminal(state: State) -> bool:
    """True for RESOLVED and CANCELLED, which nothing leaves."""
    return state in TERMINAL_STATES
