"""Policies compared on identical request streams, and the coverage choice on a built case."""

from __future__ import annotations

from datetime import timedelta

from dispatcher.matching import RankedHelper
from simulator.engine import EPOCH
from simulator.fast import study
from simulator.policy import POLICIES, choose
from simulator.scenario import load
from simulator.text import fast_table


def _ranked(helper_id: int, eta_min: float) -> RankedHelper:
    eta = timedelta(minutes=eta_min)
    deadline = EPOCH + timedelta(minutes=30)
    return RankedHelper(helper_id, 0.0, eta, EPOCH + eta, EPOCH + eta <= deadline)


def test_coverage_spares_the_lone_helper_for_general_help() -> None:
    """For general help coverage sends the covered helper who makes it; nearest the soonest."""
    ranked = [_ranked(1, 8), _ranked(2, 20), _ranked(3, 28)]
    backups = {1: 0, 2: 1, 3: 2}.__getitem__
    deadline = EPOCH + timedelta(minutes=30)
    pick = {
        name: choose(POLICIES[name], ranked, emergency=False, deadline=deadline, backups=backups)
        for name in ("nearest", "coverage")
    }
    assert pick["nearest"] is ranked[0]
    assert pick["coverage"] is ranked[1]  # 3 has backups too but only 2 min in hand
    emergency = choose(
        POLICIES["coverage"], ranked, emergency=True, deadline=deadline, backups=backups
    )
    assert emergency is ranked[0]


def test_every_policy_sees_the_same_calls_and_results_repeat() -> None:
    """One stream for all policies (same incidents, same places); a rerun gives equal figures."""
    result = study(load("small"), days=0.25)
    names = [p["policy"] for p in result["policies"]]
    assert names == list(POLICIES)
    totals = {
        (p["emergency"]["total"], p["general"]["total"], p["incidents"]) for p in result["policies"]
    }
    assert len(totals) == 1
    again = study(load("small"), days=0.25)
    strip = [{k: v for k, v in p.items() if k != "cpu_s"} for p in result["policies"]]
    assert strip == [{k: v for k, v in p.items() if k != "cpu_s"} for p in again["policies"]]
    assert result["recommended_policy"] in POLICIES
    assert "small" in fast_table([result])
