"""Everything that can happen to an incident, as plain values the core decides on.

Devices (through ingest), helpers, operators and timers all speak to the core in these terms.
``actor`` says who, for the timeline: ``device:<id>``, ``helper:<id>``, ``operator:<name>``,
``system``. Facts that need I/O to find (a helper's current ETA) are looked up by the shell and
carried in the event, so the core stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TypeAlias

from sla import Category, Level

__all__ = [
    "SYSTEM",
    "Accept",
    "Arrive",
    "AssignByHand",
    "Decline",
    "DeviceAlarm",
    "DeviceCancel",
    "Dispatch",
    "Escalate",
    "EscalateByHand",
    "Event",
    "FalseAlarm",
    "HelperMoved",
    "NewIncident",
    "OfferExpired",
    "Reassess",
    "RepeatPress",
    "Resolve",
    "Withdraw",
]

SYSTEM = "system"


@dataclass(frozen=True, kw_only=True)
class NewIncident:
    """What is known when an incident opens (a press, a fall, abnormal vitals, a phone call)."""

    category: Category
    kind: str  # sos | fall | vitals | alarm | request
    summary: str
    elder_id: int | None
    device_id: str | None
    lat: float | None
    lon: float | None
    actor: str
    unregistered: bool = False
    late: bool = False
    clock_rejected: str | None = None
    notify_family: bool = True  # an operator's request for the elder themselves: no "received"
    # Devices' incidents are matched just after the device's ack (the ack must not wait on the
    # matcher); an operator's request is matched in the same transaction.
    defer_dispatch: bool = True


@dataclass(frozen=True, kw_only=True)
class Dispatch:
    """Look for a helper now (first dispatch, or the retry timer)."""

    actor: str = SYSTEM


@dataclass(frozen=True, kw_only=True)
class OfferExpired:
    offer_id: int
    actor: str = SYSTEM


@dataclass(frozen=True, kw_only=True)
class Accept:
    helper_id: int
    eta: timedelta  # from the helper's latest position, or the offer's estimate
    actor: str


@dataclass(frozen=True, kw_only=True)
class Decline:
    helper_id: int
    actor: str


@dataclass(frozen=True, kw_only=True)
class AssignByHand:
    helper_id: int
    eta: timedelta | None  # None: no fresh position, so nobody is told a time
    actor: str


@dataclass(frozen=True, kw_only=True)
class Withdraw:
    """Take the assigned helper off (they cannot come); redispatch unless assigning by hand."""

    reason: str
    actor: str
    redispatch: bool = True


@dataclass(frozen=True, kw_only=True)
class Arrive:
    helper_id: int | None
    actor: str


@dataclass(frozen=True, kw_only=True)
class Resolve:
    helper_id: int | None
    outcome: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class FalseAlarm:
    actor: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeviceCancel:
    actor: str


@dataclass(frozen=True, kw_only=True)
class RepeatPress:
    summary: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class DeviceAlarm:
    """Alarms (low battery, removed…) or abnormal vitals on an incident already open."""

    action: str  # device_alarm | abnormal_vitals
    items: tuple[str, ...]
    actor: str


@dataclass(frozen=True, kw_only=True)
class EscalateByHand:
    level: Level
    actor: str
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Escalate:
    """An escalation step's timer came due."""

    level: Level
    actor: str = SYSTEM


@dataclass(frozen=True, kw_only=True)
class Reassess:
    """The accept check or the deadline came due: re-assess the promise."""

    actor: str = SYSTEM


@dataclass(frozen=True, kw_only=True)
class HelperMoved:
    """The assigned helper reported a position; ``eta`` is the new estimate from there."""

    helper_id: int
    eta: timedelta
    actor: str


Event: TypeAlias = (
    Dispatch
    | OfferExpired
    | Accept
    | Decline
    | AssignByHand
    | Withdraw
    | Arrive
    | Resolve
    | FalseAlarm
    | DeviceCancel
    | RepeatPress
    | DeviceAlarm
    | EscalateByHand
    | Escalate
    | Reassess
    | HelperMoved
)
"""An event on an existing incident (``NewIncident`` opens one)."""
