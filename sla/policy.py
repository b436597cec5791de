"""The SLA policy: how long each category may take, as data.

Three clocks per category, all started from instants the *server* recorded:

| clock           | emergency | general | starts at           | meaning                          |
|-----------------|-----------|---------|---------------------|----------------------------------|
| `arrival`       | 15 min    | 30 min  | server receive time | the promise: a helper on scene   |
| `accept_by`     | 5 min     | 10 min  | incident creation   | at risk if nobody accepted yet   |
| `offer_timeout` | 60 s      | 180 s   | one offer was sent  | that offer expires, try the next |

The deadline is computed once, when the incident is created, from the server's receive time
(never the device's clock) and then stored; changing the policy later does not move it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from sla.categories import Category
from sla.errors import InvalidConfiguration
from sla.timestamps import add_elapsed

__all__ = ["DEFAULT_POLICY", "SlaPolicy"]


def _per_category(emergency: timedelta, general: timedelta) -> Mapping[Category, timedelta]:
    return MappingProxyType({Category.EMERGENCY: emergency, Category.GENERAL: general})


def _default_arrival() -> Mapping[Category, timedelta]:
    return _per_category(timedelta(minutes=15), timedelta(minutes=30))


def _default_offer_timeout() -> Mapping[Category, timedelta]:
    return _per_category(timedelta(seconds=60), timedelta(seconds=180))


def _default_accept_by() -> Mapping[Category, timedelta]:
    return _per_category(timedelta(minutes=5), timedelta(minutes=10))


@dataclass(frozen=True)
class SlaPolicy:
    """Durations per category; build it once from settings and pass it down.

    Every mapping must name every `Category` with a positive duration, and `accept_by` must not
    exceed `arrival` (a check after the deadline would never warn in time); otherwise the
    constructor raises `InvalidConfiguration`. The mappings are copied into read-only views.
    """

    arrival: Mapping[Category, timedelta] = field(default_factory=_default_arrival)
    offer_timeout: Mapping[Category, timedelta] = field(default_factory=_default_offer_timeout)
    accept_by: Mapping[Category, timedelta] = field(default_factory=_default_accept_by)

    def __post_init__(self) -> None:
        for name in ("arrival", "offer_timeout", "accept_by"):
            durations: Mapping[Category, timedelta] = getattr(self, name)
            missing = [c.value for c in Category if c not in durations]
            if missing:
                raise InvalidConfiguration(f"SLA {name} has no duration for {missing}")
            for category in Category:
                if durations[category] <= timedelta(0):
                    raise InvalidConfiguration(
                        f"SLA {name} for {category.value} must be positive, "
                        f"got {durations[category]}"
                    )
            frozen = MappingProxyType({c: durations[c] for c in Category})
            object.__setattr__(self, name, frozen)
        for category in Category:
            if self.accept_by[category] > self.arrival[category]:
                raise InvalidConfiguration(
                    f"SLA accept_by for {category.value} ({self.accept_by[category]}) "
                    f"is longer than its arrival time ({self.arrival[category]})"
                )

    def __hash__(self) -> int:
        return hash(
            tuple(
                tuple(getattr(self, name)[c] for c in Category)
                for name in ("arrival", "offer_timeout", "accept_by")
            )
        )

    @classmethod
    def from_minutes(
        cls,
        *,
        emergency_arrival: float = 15,
        general_arrival: float = 30,
        emergency_accept_by: float = 5,
        general_accept_by: float = 10,
        emergency_offer_timeout_seconds: float = 60,
        general_offer_timeout_seconds: float = 180,
    ) -> SlaPolicy:
        """Build a policy from plain numbers (minutes; offer timeouts in seconds), for settings."""
        return cls(
            arrival=_per_category(
                timedelta(minutes=emergency_arrival), timedelta(minutes=general_arrival)
            ),
            offer_timeout=_per_category(
                timedelta(seconds=emergency_offer_timeout_seconds),
                timedelta(seconds=general_offer_timeout_seconds),
            ),
            accept_by=_per_category(
                timedelta(minutes=emergency_accept_by), timedelta(minutes=general_accept_by)
            ),
        )

    def deadline(self, category: Category, received_at: datetime) -> datetime:
        """When a helper must be on scene: the server's receive time plus the arrival time."""
        return add_elapsed("received_at", received_at, self.arrival[category])

    def offer_expires_at(self, category: Category, offered_at: datetime) -> datetime:
        """When an unanswered offer sent at `offered_at` expires."""
        return add_elapsed("offered_at", offered_at, self.offer_timeout[category])

    def accept_check_at(self, category: Category, created_at: datetime) -> datetime:
        """From when an incident nobody has accepted counts as at risk."""
        return add_elapsed("created_at", created_at, self.accept_by[category])


DEFAULT_POLICY = SlaPolicy()
"""The defaults of the design: 15/30 min on scene, 5/10 min to accept, 60/180 s per offer."""
