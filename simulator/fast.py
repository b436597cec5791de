"""A fast-mode study: one district, one request stream, every policy asked, figures compared.

Each run is the server's dispatch core in simulated time (``simulator.engine``), so the figures,
notifications and escalations included, are the server's logic on that stream.

The recommended policy is the one with the highest share of emergencies on time; ``nearest``
stays the recommendation unless another beats it outright (a tie keeps the baseline, which is
what the server does).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from simulator.demand import requests
from simulator.district import District, generate
from simulator.engine import EPOCH, RunResult, simulate
from simulator.metrics import Observed, summarise
from simulator.policy import POLICIES, Policy
from simulator.scenario import Scenario
from sla import Level

__all__ = ["bounds_of", "observed", "study", "summary_of"]


def bounds_of(district: District) -> tuple[float, float, float, float]:
    """(south, west, north, east) around every home, for the heat map."""
    lats = [e.lat for e in district.elders] or [district.scenario.district.centre_lat]
    lons = [e.lon for e in district.elders] or [district.scenario.district.centre_lon]
    pad = 1e-6
    return min(lats) - pad, min(lons) - pad, max(lats) + pad, max(lons) + pad


def observed(result: RunResult) -> list[Observed]:
    def at(s: float) -> datetime:
        return EPOCH + timedelta(seconds=s)

    return [
        Observed(
            emergency=i.emergency,
            hour=int(i.created_s // 3600) % 24,
            created=at(i.created_s),
            deadline=at(i.deadline_s),
            arrived=at(i.arrived_s) if i.arrived_s is not None else None,
            cancelled=i.cancelled,
            lat=i.lat,
            lon=i.lon,
        )
        for i in result.incidents
    ]


def summary_of(result: RunResult, district: District) -> dict[str, Any]:
    figures = summarise(
        observed(result),
        bounds=bounds_of(district),
        helper_duty_s=[h.duty_s for h in result.helpers],
        helper_busy_s=[h.busy_s for h in result.helpers],
        helper_assignments=[h.assignments for h in result.helpers],
    )
    offers = [i.offers for i in result.incidents]
    figures.update(
        policy=result.policy,
        cpu_s=round(result.cpu_s, 3),
        incidents=len(result.incidents),
        offers_per_incident=round(sum(offers) / len(offers), 3) if offers else None,
        reoffers=sum(i.reoffers for i in result.incidents),
        joined_presses=result.joined,
        # What the server's core would have told people (one per notice, not per phone), and
        # how many incidents reached each escalation level.
        notifications=result.notices,
        escalated={
            level.name.lower(): sum(i.escalation >= level for i in result.incidents)
            for level in Level
            if level != Level.NONE
        },
    )
    return figures


def _share(summary: dict[str, Any]) -> float:
    share = summary["emergency"]["share_on_time"]
    return -math.inf if share is None else float(share)


def study(
    scenario: Scenario, *, days: float | None = None, policies: Sequence[Policy] | None = None
) -> dict[str, Any]:
    """Run the scenario under each policy on the identical stream; the JSON-ready result."""
    days = scenario.days if days is None else days
    wall = time.perf_counter()
    district = generate(scenario, days=math.ceil(days))
    calls = requests(scenario, days, len(district.elders))
    chosen = list(policies) if policies is not None else list(POLICIES.values())
    summaries = [summary_of(simulate(district, calls, p, days=days), district) for p in chosen]
    baseline = next((s for s in summaries if s["policy"] == "nearest"), summaries[0])
    best = max(summaries, key=_share)
    recommended = best if _share(best) > _share(baseline) else baseline
    return {
        "mode": "fast",
        "scenario": scenario.name,
        "seed": scenario.seed,
        "days": days,
        "elders": len(district.elders),
        "helpers": len(district.helpers),
        "requests": len(calls),
        "wall_s": round(time.perf_counter() - wall, 3),
        "recommended_policy": recommended["policy"],
        "policies": summaries,
    }
