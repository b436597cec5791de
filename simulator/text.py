"""Plain-text renderings of results for the terminal and ``make bench``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["fast_table", "live_text"]


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _min(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def fast_table(results: Sequence[dict[str, Any]]) -> str:
    """One row per scenario and policy: on time, mean/p90 arrival, load, fairness, CPU time."""
    head = (
        f"{'scenario':<8} {'days':>4} {'calls':>6} {'policy':<17} {'emerg ok':>8} "
        f"{'mean':>5} {'p90':>5} {'gen ok':>7} {'mean':>5} {'p90':>5} {'util':>6} "
        f"{'gini':>5} {'cpu s':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        for p in r["policies"]:
            e, g = p["emergency"], p["general"]
            mark = "*" if p["policy"] == r["recommended_policy"] else " "
            lines.append(
                f"{r['scenario']:<8} {r['days']:>4g} {r['requests']:>6} "
                f"{p['policy'] + mark:<17} {_pct(e['share_on_time']):>8} "
                f"{_min(e['arrival_mean_min']):>5} {_min(e['arrival_p90_min']):>5} "
                f"{_pct(g['share_on_time']):>7} {_min(g['arrival_mean_min']):>5} "
                f"{_min(g['arrival_p90_min']):>5} {_pct(p['helpers']['utilisation']):>6} "
                f"{p['helpers']['fairness_gini']:>5.2f} {p['cpu_s']:>6.2f}"
            )
    lines.append("* recommended: best emergency on-time share (ties keep nearest); minutes")
    return "\n".join(lines)


def live_text(r: dict[str, Any]) -> str:
    """The live run's report as the terminal shows it."""
    summary = r["policies"][0]
    lines = [
        f"live run: scenario {r['scenario']}, speed x{r['speed']:g}, {r['calls']} calls "
        f"in {r['run_s']} s, {r['elders']} elders, {r['helpers']} helpers",
        f"incidents by category: {r['incidents_by_category']}  by kind: {r['incidents_by_kind']}",
        f"final states: {r['incident_states']}",
        f"server SLA status: {r['server_sla_status']}",
        "scenario-time SLA: "
        + ", ".join(
            f"{c} met {summary[c]['met']} breached {summary[c]['breached']} "
            f"({_pct(summary[c]['share_on_time'])})"
            for c in ("emergency", "general")
        ),
    ]
    for name in ("time_to_offer", "time_to_accept", "time_to_arrival"):
        t = r[name]
        lines.append(
            f"{name:<16} n={t['n']:<4} real s p50/p90/p99 {t['p50_s']}/{t['p90_s']}/{t['p99_s']}"
            f"   scenario min {t['p50_scenario_min']}/{t['p90_scenario_min']}"
            f"/{t['p99_scenario_min']}"
        )
    ing = r["ingest"]
    lines += [
        f"ingest: published {ing['telemetry_published']} telemetry ({ing['published_per_s']}/s), "
        f"server stored {ing['server_telemetry_stored']} ({ing['server_telemetry_per_s']}/s), "
        f"max in flight {ing['max_in_flight']}",
        f"LOST {r['lost']}  DUPLICATED {r['duplicated']}",
    ]
    return "\n".join(lines)
