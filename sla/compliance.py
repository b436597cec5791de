"""Compliance figures: how often the promise was kept, per category.

Counting rules, the same as `assess()`:

* **total** counts every outcome given.
* **cancelled** outcomes (confirmed false alarms) are not measured, even if a helper arrived.
* **met**: arrived at or before the deadline; **breached**: arrived after it, or never arrived.
* **pending**: only when `now` is given, an outcome with no arrival whose deadline has not
  passed at `now` is still running; it is neither met nor breached nor measured. Without `now`,
  every outcome is taken as final and a missing arrival is a breach.
* **measured** = met + breached; **share_met** = met / measured, None when nothing is measured.

Response time is created → arrival, over measured outcomes that arrived (a late arrival counts,
a missing one has no response time). Percentiles use the nearest-rank method: sort the n times
ascending; the p-th percentile is the value at rank ⌈p/100 × n⌉ (1-based). It is always one of
the observed times, never an interpolation, so "p90 = 14 min" means a real incident took 14 min.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sla.categories import Category
from sla.timestamps import elapsed, require_aware, to_utc

__all__ = ["ComplianceFigures", "Outcome", "compliance", "nearest_rank"]


@dataclass(frozen=True)
class Outcome:
    """The facts of one incident that compliance needs; every datetime must be aware."""

    category: Category
    created_at: datetime
    deadline: datetime
    arrived_at: datetime | None
    cancelled: bool = False

    def __post_init__(self) -> None:
        require_aware("created_at", self.created_at)
        require_aware("deadline", self.deadline)
        if self.arrived_at is not None:
            require_aware("arrived_at", self.arrived_at)


@dataclass(frozen=True)
class ComplianceFigures:
    """The figures of one category; see the module docstring for how each is counted."""

    total: int
    measured: int
    met: int
    breached: int
    share_met: float | None
    response_p50: timedelta | None
    response_p90: timedelta | None
    cancelled: int = 0
    pending: int = 0


def nearest_rank(sorted_values: Sequence[timedelta], percent: int) -> timedelta | None:
    """The `percent`-th percentile of ascending `sorted_values` by nearest rank; None if empty."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in 1..100, got {percent}")
    if not sorted_values:
        return None
    rank = -(-percent * len(sorted_values) // 100)  # ⌈p × n / 100⌉ in integers
    return sorted_values[rank - 1]


def compliance(
    outcomes: Iterable[Outcome], *, now: datetime | None = None
) -> dict[Category, ComplianceFigures]:
    """Figures for every category (all zero for a category with no outcomes)."""
    now_utc = to_utc("now", now) if now is not None else None
    grouped: dict[Category, list[Outcome]] = {category: [] for category in Category}
    for outcome in outcomes:
        grouped[outcome.category].append(outcome)
    return {category: _figures(items, now_utc) for category, items in grouped.items()}


def _figures(outcomes: list[Outcome], now_utc: datetime | None) -> ComplianceFigures:
    met = breached = cancelled = pending = 0
    responses: list[timedelta] = []
    for outcome in outcomes:
        if outcome.cancelled:
            cancelled += 1
        elif outcome.arrived_at is None:
            if now_utc is not None and now_utc <= to_utc("deadline", outcome.deadline):
                pending += 1
            else:
                breached += 1
        else:
            responses.append(elapsed(outcome.created_at, outcome.arrived_at))
            if elapsed(outcome.deadline, outcome.arrived_at) <= timedelta(0):
                met += 1
            else:
                breached += 1
    measured = met + breached
    responses.sort()
    return ComplianceFigures(
        total=len(outcomes),
        measured=measured,
        met=met,
        breached=breached,
        share_met=met / measured if measured else None,
        response_p50=nearest_rank(responses, 50),
        response_p90=nearest_rank(responses, 90),
        cancelled=cancelled,
        pending=pending,
    )
