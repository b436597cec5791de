"""Timer kinds: each durable timer becomes the core event its table names."""

from __future__ import annotations

import pytest

from dispatcher.core import (
    TIMER_EVENTS,
    Dispatch,
    Escalate,
    Event,
    OfferExpired,
    Reassess,
    TimerKind,
    event_for_timer,
)
from sla import Level

CASES: list[tuple[str, int | None, Event]] = [
    ("offer_expiry", 42, OfferExpired(offer_id=42)),
    ("retry_dispatch", None, Dispatch()),
    ("accept_check", None, Reassess()),
    ("deadline", None, Reassess()),
    ("escalation", 2, Escalate(level=Level.SUPERVISOR)),
    ("escalation", 3, Escalate(level=Level.EMERGENCY_SERVICES)),
]


@pytest.mark.parametrize(("kind", "ref", "event"), CASES, ids=[f"{k}-{r}" for k, r, _ in CASES])
def test_a_due_timer_is_its_event(kind: str, ref: int | None, event: Event) -> None:
    """The stored kind string and ref give the event: the offer id, or the escalation level."""
    assert event_for_timer(kind, ref) == event


def test_every_kind_has_an_event() -> None:
    """No kind the core arms is missing from the table (no if/elif to forget one in)."""
    assert set(TIMER_EVENTS) == set(TimerKind)
    assert {k for k, _, _ in CASES} == {k.value for k in TimerKind}


def test_an_unknown_kind_is_refused() -> None:
    """A kind this server never arms (an old row, a typo) is a ValueError, not a silent no-op."""
    with pytest.raises(ValueError, match="reminder"):
        event_for_timer("reminder", None)
