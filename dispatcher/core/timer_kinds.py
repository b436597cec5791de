"""Timer kinds: what each durable timer means when it comes due (one table, no if/elif chain).

A timer is a row (incident, kind, due time, ref). When it comes due the shell turns it into the
core event this table names; ``ref`` is the offer id for an offer expiry and the escalation
level for an escalation step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType

from dispatcher.core.events import Dispatch, Escalate, Event, OfferExpired, Reassess
from sla import Level

__all__ = ["TIMER_EVENTS", "TimerKind", "event_for_timer"]


class TimerKind(StrEnum):
    OFFER_EXPIRY = "offer_expiry"
    RETRY_DISPATCH = "retry_dispatch"
    ACCEPT_CHECK = "accept_check"
    DEADLINE = "deadline"
    ESCALATION = "escalation"


TIMER_EVENTS: Mapping[TimerKind, Callable[[int | None], Event]] = MappingProxyType(
    {
        TimerKind.OFFER_EXPIRY: lambda ref: OfferExpired(offer_id=ref or 0),
        TimerKind.RETRY_DISPATCH: lambda _ref: Dispatch(),
        TimerKind.ACCEPT_CHECK: lambda _ref: Reassess(),
        TimerKind.DEADLINE: lambda _ref: Reassess(),
        TimerKind.ESCALATION: lambda ref: Escalate(level=Level(ref or 0)),
    }
)


def event_for_timer(kind: str, ref: int | None) -> Event:
    """The core event a due timer stands for; ``ValueError`` for a kind this server never arms."""
    return TIMER_EVENTS[TimerKind(kind)](ref)
