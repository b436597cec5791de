"""Compliance figures on a hand-computed set of outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sla import Category, ComplianceFigures, NaiveDatetimeError, Outcome, compliance, nearest_rank

T = datetime.fromisoformat
EMERGENCY = Category.EMERGENCY
GENERAL = Category.GENERAL
MIN = timedelta(minutes=1)


def _emergency(arrived: str | None, *, cancelled: bool = False) -> Outcome:
    """An emergency created at 08:00 (deadline 08:15), arriving at `arrived` (HH:MM) if given."""
    return Outcome(
        category=EMERGENCY,
        created_at=T("2026-11-23T08:00:00+08:00"),
        deadline=T("2026-11-23T08:15:00+08:00"),
        arrived_at=T(f"2026-11-23T{arrived}:00+08:00") if arrived else None,
        cancelled=cancelled,
    )


HAND_SET = [
    _emergency("08:10"),  # 10 min, met
    _emergency("08:15"),  # 15 min, met: exactly at the deadline
    _emergency("08:20"),  # 20 min, breached
    _emergency("08:06"),  # 6 min, met
    _emergency(None),  # never arrived: breached, no response time
    _emergency("08:30", cancelled=True),  # false alarm: not measured
    Outcome(
        category=GENERAL,
        created_at=T("2026-11-23T09:00:00+08:00"),
        deadline=T("2026-11-23T09:30:00+08:00"),
        arrived_at=T("2026-11-23T01:25:00+00:00"),  # 09:25+08:00, given in UTC
    ),
]


def test_hand_computed_figures() -> None:
    """Counts, share met and nearest-rank p50/p90 match the figures worked out by hand."""
    figures = compliance(HAND_SET)
    # Emergency response times sorted: 6, 10, 15, 20 min (n = 4).
    # p50: rank ⌈0.5 × 4⌉ = 2 → 10 min; p90: rank ⌈0.9 × 4⌉ = 4 → 20 min.
    assert figures[EMERGENCY] == ComplianceFigures(
        total=6,
        measured=5,
        met=3,
        breached=2,
        share_met=0.6,
        response_p50=10 * MIN,
        response_p90=20 * MIN,
        cancelled=1,
        pending=0,
    )
    assert figures[GENERAL] == ComplianceFigures(
        total=1,
        measured=1,
        met=1,
        breached=0,
        share_met=1.0,
        response_p50=25 * MIN,
        response_p90=25 * MIN,
    )


def test_every_category_is_reported_even_without_outcomes() -> None:
    """A category with no incidents has zero counts and no share or percentiles."""
    empty = ComplianceFigures(0, 0, 0, 0, None, None, None)
    assert compliance([]) == {EMERGENCY: empty, GENERAL: empty}


def test_only_cancelled_means_nothing_measured() -> None:
    """With only false alarms, nothing is measured and the share is None, not zero."""
    figures = compliance([_emergency("08:05", cancelled=True)])[EMERGENCY]
    assert (figures.total, figures.measured, figures.cancelled) == (1, 0, 1)
    assert figures.share_met is None
    assert figures.response_p50 is None


@pytest.mark.parametrize(
    ("now", "pending", "breached"),
    [
        ("2026-11-23T08:10:00+08:00", 1, 0),
        ("2026-11-23T08:15:00+08:00", 1, 0),
        ("2026-11-23T08:15:01+08:00", 0, 1),
    ],
)
def test_now_keeps_running_incidents_out_of_the_figures(
    now: str, pending: int, breached: int
) -> None:
    """Given `now`, an unarrived incident is pending until its deadline passes, then breached."""
    figures = compliance([_emergency(None), _emergency("08:04")], now=T(now))[EMERGENCY]
    assert (figures.total, figures.pending, figures.breached, figures.met) == (
        2,
        pending,
        breached,
        1,
    )
    assert figures.measured == 1 + breached


def test_without_now_an_unarrived_incident_is_breached() -> None:
    """Outcomes are taken as final when no `now` is given, so no arrival is a breach."""
    assert compliance([_emergency(None)])[EMERGENCY].breached == 1


@pytest.mark.parametrize(
    ("minutes", "percent", "expected"),
    [
        (list(range(1, 11)), 50, 5),
        (list(range(1, 11)), 90, 9),
        (list(range(1, 11)), 91, 10),
        (list(range(1, 11)), 100, 10),
        (list(range(1, 11)), 1, 1),
        ([7], 50, 7),
        ([7], 90, 7),
        ([3, 8], 50, 3),
        ([3, 8], 51, 8),
    ],
)
def test_nearest_rank(minutes: list[int], percent: int, expected: int) -> None:
    """The p-th percentile is the value at rank ⌈p/100 × n⌉ of the sorted list."""
    assert nearest_rank([m * MIN for m in minutes], percent) == expected * MIN


def test_nearest_rank_edges() -> None:
    """An empty list has no percentile and a percent outside 1..100 is refused."""
    assert nearest_rank([], 50) is None
    with pytest.raises(ValueError, match=r"1\.\.100"):
        nearest_rank([MIN], 0)


def test_outcome_refuses_naive_datetimes() -> None:
    """An outcome cannot be built from a datetime without an offset."""
    with pytest.raises(NaiveDatetimeError, match="arrived_at"):
        Outcome(
            category=EMERGENCY,
            created_at=T("2026-11-23T08:00:00+08:00"),
            deadline=T("2026-11-23T08:15:00+08:00"),
            arrived_at=T("2026-11-23T08:10:00"),
        )


def test_compliance_refuses_a_naive_now() -> None:
    """`now` must be aware too."""
    with pytest.raises(NaiveDatetimeError, match="now"):
        compliance([], now=T("2026-11-23T08:10:00"))
