"""The figures both modes report, from observed incidents: a plain dict ready for JSON and HTML.

On time is counted by ``sla.compliance`` (cancelled incidents are not measured; an incident
nobody reached counts as late). Arrival time is created → helper on scene; percentiles use its
nearest-rank rule, so every figure is a time some incident really took. Fairness is the Gini
coefficient of completed assignments per on-duty hour across helpers who had duty (0 = everyone
equally loaded, 1 = one helper did everything).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sla import Category, Outcome, compliance, nearest_rank

__all__ = ["HEAT_CELLS", "Observed", "gini", "summarise"]

HEAT_CELLS = 20
_HIST_MAX_MIN = 60


@dataclass(frozen=True, slots=True)
class Observed:
    emergency: bool
    hour: int  # local hour of day the incident was created
    created: datetime
    deadline: datetime
    arrived: datetime | None
    cancelled: bool
    lat: float
    lon: float


def gini(values: Sequence[float]) -> float:
    """Gini coefficient of non-negative ``values`` (0 when empty or all zero)."""
    xs = sorted(values)
    total = sum(xs)
    if not xs or total <= 0:
        return 0.0
    n = len(xs)
    weighted = sum((i + 1) * x for i, x in enumerate(xs))
    return (2 * weighted) / (n * total) - (n + 1) / n


def _minutes(d: timedelta | None) -> float | None:
    return None if d is None else round(d.total_seconds() / 60, 2)


def _category(items: list[Observed], cat: Category) -> dict[str, Any]:
    figures = compliance(
        Outcome(cat, o.created, o.deadline, o.arrived, o.cancelled) for o in items
    )[cat]
    times = sorted(o.arrived - o.created for o in items if o.arrived and not o.cancelled)
    hist = [0] * (_HIST_MAX_MIN + 1)  # one bin per minute, the last one "60 or more"
    for d in times:
        hist[min(int(d.total_seconds() // 60), _HIST_MAX_MIN)] += 1
    mean = sum(times, timedelta()) / len(times) if times else None
    return {
        "total": figures.total,
        "measured": figures.measured,
        "met": figures.met,
        "breached": figures.breached,
        "cancelled": figures.cancelled,
        "never_reached": sum(1 for o in items if o.arrived is None and not o.cancelled),
        "share_on_time": figures.share_met,
        "arrival_mean_min": _minutes(mean),
        "arrival_p50_min": _minutes(nearest_rank(times, 50)),
        "arrival_p90_min": _minutes(nearest_rank(times, 90)),
        "arrival_p99_min": _minutes(nearest_rank(times, 99)),
        "arrival_hist_min": hist,
    }


def _by_hour(items: list[Observed]) -> list[float | None]:
    out: list[float | None] = []
    for hour in range(24):
        measured = [o for o in items if o.hour == hour and not o.cancelled]
        met = sum(1 for o in measured if o.arrived is not None and o.arrived <= o.deadline)
        out.append(round(met / len(measured), 4) if measured else None)
    return out


def _heat(items: list[Observed], bounds: tuple[float, float, float, float]) -> dict[str, Any]:
    south, west, north, east = bounds
    calls = [[0] * HEAT_CELLS for _ in range(HEAT_CELLS)]
    late = [[0] * HEAT_CELLS for _ in range(HEAT_CELLS)]
    for o in items:
        row = int((o.lat - south) / (north - south) * HEAT_CELLS)
        col = int((o.lon - west) / (east - west) * HEAT_CELLS)
        if not (0 <= row < HEAT_CELLS and 0 <= col < HEAT_CELLS):
            continue
        calls[row][col] += 1
        if not o.cancelled and (o.arrived is None or o.arrived > o.deadline):
            late[row][col] += 1
    return {"bounds": list(bounds), "incidents": calls, "late": late}


def summarise(
    observed: Iterable[Observed],
    *,
    bounds: tuple[float, float, float, float],
    helper_duty_s: Sequence[float] = (),
    helper_busy_s: Sequence[float] = (),
    helper_assignments: Sequence[int] = (),
) -> dict[str, Any]:
    """Per-category figures, on time by hour, the heat map and the helpers' load."""
    items = list(observed)
    emergency = [o for o in items if o.emergency]
    general = [o for o in items if not o.emergency]
    duty = sum(helper_duty_s)
    per_hour = [
        a / (d / 3600) for a, d in zip(helper_assignments, helper_duty_s, strict=False) if d > 0
    ]
    utilisation = [
        min(b / d, 1.0) for b, d in zip(helper_busy_s, helper_duty_s, strict=False) if d > 0
    ]
    return {
        "emergency": _category(emergency, Category.EMERGENCY),
        "general": _category(general, Category.GENERAL),
        "on_time_by_hour": {"emergency": _by_hour(emergency), "general": _by_hour(general)},
        "heatmap": _heat(items, bounds),
        "helpers": {
            "count": len(helper_duty_s),
            "utilisation": round(sum(helper_busy_s) / duty, 4) if duty else None,
            "utilisation_each": [round(u, 4) for u in utilisation],
            "assignments": sum(helper_assignments),
            "max_assignments": max(helper_assignments, default=0),
            "fairness_gini": round(gini(per_hour), 4),
        },
    }
