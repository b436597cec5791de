"""Every assess() rule, its boundaries and its precedence, with literal timestamps.

The reference incident is an emergency received 2026-11-23T08:00:00+08:00: deadline 08:15,
accept check 08:05. The general one has deadline 08:30 and accept check 08:10.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from sla import (
    DEFAULT_POLICY,
    Assessment,
    Category,
    NaiveDatetimeError,
    ReasonCode,
    SlaPolicy,
    SlaStatus,
    State,
    assess,
)

T = datetime.fromisoformat
CREATED = "2026-11-23T08:00:00+08:00"


@dataclass(frozen=True)
class Case:
    """One call to assess(), with the reference emergency filled in for what is not given."""

    id: str
    now: str
    state: State
    expected: Assessment
    category: Category = Category.EMERGENCY
    accepted_at: str | None = None
    eta: str | None = None
    arrived_at: str | None = None
    has_candidates: bool = True
    policy: SlaPolicy = field(default=DEFAULT_POLICY)

    def run(self) -> Assessment:
        created = T(CREATED)
        return assess(
            now=T(self.now),
            category=self.category,
            state=self.state,
            created_at=created,
            deadline=self.policy.deadline(self.category, created),
            accepted_at=T(self.accepted_at) if self.accepted_at else None,
            eta=T(self.eta) if self.eta else None,
            arrived_at=T(self.arrived_at) if self.arrived_at else None,
            has_candidates=self.has_candidates,
            policy=self.policy,
        )


def _t(hhmmss: str) -> str:
    return f"2026-11-23T{hhmmss}+08:00"


ON_TRACK = Assessment(SlaStatus.ON_TRACK)
MET = Assessment(SlaStatus.MET)
S = State
A = SlaStatus.AT_RISK
B = SlaStatus.BREACHED
R = ReasonCode

CASES = [
    # Arrival decides, whatever the time now.
    Case("arrived-before", _t("09:00:00"), S.ON_SCENE, MET, arrived_at=_t("08:14:00")),
    Case("arrived-exactly-at-deadline", _t("08:15:00"), S.ON_SCENE, MET, arrived_at=_t("08:15:00")),
    Case("resolved-in-time", _t("10:00:00"), S.RESOLVED, MET, arrived_at=_t("08:09:00")),
    Case(
        "arrived-one-second-late",
        _t("08:15:01"),
        S.ON_SCENE,
        Assessment(B, "arrived 1 min after the deadline", R.ARRIVED_LATE),
        arrived_at=_t("08:15:01"),
    ),
    Case(
        "arrived-seven-minutes-late",
        _t("08:40:00"),
        S.RESOLVED,
        Assessment(B, "arrived 7 min after the deadline", R.ARRIVED_LATE),
        arrived_at=_t("08:22:00"),
    ),
    Case(
        "arrival-in-another-offset",
        _t("09:00:00"),
        S.ON_SCENE,
        MET,
        arrived_at="2026-11-23T00:15:00+00:00",
    ),
    # Cancelled is never measured, even late and with an arrival.
    Case(
        "cancelled",
        _t("08:03:00"),
        S.CANCELLED,
        Assessment(
            SlaStatus.CLOSED_UNMEASURED,
            "confirmed as a false alarm; not measured",
            R.FALSE_ALARM,
        ),
    ),
    Case(
        "cancelled-after-late-arrival",
        _t("09:00:00"),
        S.CANCELLED,
        Assessment(
            SlaStatus.CLOSED_UNMEASURED,
            "confirmed as a false alarm; not measured",
            R.FALSE_ALARM,
        ),
        arrived_at=_t("08:20:00"),
    ),
    # Closed without arrival on record (the table forbids it; assess still answers).
    Case(
        "resolved-without-arrival",
        _t("08:05:00"),
        S.RESOLVED,
        Assessment(B, "closed without a recorded arrival", R.RESOLVED_WITHOUT_ARRIVAL),
    ),
    # The deadline passes without arrival.
    Case(
        "deadline-passed-open",
        _t("08:15:01"),
        S.OPEN,
        Assessment(B, "deadline 08:15 passed without arrival", R.DEADLINE_PASSED),
    ),
    Case(
        "deadline-passed-beats-eta",
        _t("08:16:00"),
        S.ASSIGNED,
        Assessment(B, "deadline 08:15 passed without arrival", R.DEADLINE_PASSED),
        accepted_at=_t("08:02:00"),
        eta=_t("08:18:00"),
    ),
    Case(
        "at-the-deadline-not-yet-breached",
        _t("08:15:00"),
        S.ASSIGNED,
        ON_TRACK,
        accepted_at=_t("08:02:00"),
        eta=_t("08:15:00"),
    ),
    Case(
        "general-deadline-passed",
        _t("08:30:01"),
        S.OFFERED,
        Assessment(B, "deadline 08:30 passed without arrival", R.DEADLINE_PASSED),
        category=Category.GENERAL,
    ),
    # The helper's ETA is after the deadline.
    Case(
        "assigned-eta-late",
        _t("08:03:00"),
        S.ASSIGNED,
        Assessment(
            A, "assigned helper's ETA 08:17 is after the deadline 08:15", R.ETA_AFTER_DEADLINE
        ),
        accepted_at=_t("08:02:00"),
        eta=_t("08:17:00"),
    ),
    Case(
        "eta-in-utc-shown-on-deadline-clock",
        _t("08:03:00"),
        S.ASSIGNED,
        Assessment(
            A, "assigned helper's ETA 08:17 is after the deadline 08:15", R.ETA_AFTER_DEADLINE
        ),
        eta="2026-11-23T00:17:00+00:00",
    ),
    Case(
        "offered-eta-late",
        _t("08:01:00"),
        S.OFFERED,
        Assessment(
            A, "offered helper's ETA 08:20 is after the deadline 08:15", R.ETA_AFTER_DEADLINE
        ),
        eta=_t("08:20:00"),
    ),
    Case(
        "eta-exactly-at-deadline",
        _t("08:03:00"),
        S.ASSIGNED,
        ON_TRACK,
        accepted_at=_t("08:02:00"),
        eta=_t("08:15:00"),
    ),
    Case("eta-ignored-while-open", _t("08:03:00"), S.OPEN, ON_TRACK, eta=_t("08:20:00")),
    Case(
        "eta-beats-not-accepted",
        _t("08:06:00"),
        S.OFFERED,
        Assessment(
            A, "offered helper's ETA 08:16 is after the deadline 08:15", R.ETA_AFTER_DEADLINE
        ),
        eta=_t("08:16:00"),
    ),
    # Nobody can be offered.
    Case(
        "no-candidate",
        _t("08:00:30"),
        S.OPEN,
        Assessment(A, "no helper can be offered", R.NO_CANDIDATE),
        has_candidates=False,
    ),
    Case(
        "no-candidate-beats-not-accepted",
        _t("08:06:00"),
        S.OPEN,
        Assessment(A, "no helper can be offered", R.NO_CANDIDATE),
        has_candidates=False,
    ),
    Case(
        "no-candidate-irrelevant-once-assigned",
        _t("08:06:00"),
        S.ASSIGNED,
        ON_TRACK,
        accepted_at=_t("08:02:00"),
        eta=_t("08:12:00"),
        has_candidates=False,
    ),
    # Nobody accepted in time.
    Case("accept-check-one-second-before", _t("08:04:59"), S.OPEN, ON_TRACK),
    Case(
        "accept-check-exactly",
        _t("08:05:00"),
        S.OPEN,
        Assessment(A, "no helper accepted within 5 min", R.NOT_ACCEPTED),
    ),
    Case(
        "not-accepted-while-offered",
        _t("08:07:00"),
        S.OFFERED,
        Assessment(A, "no helper accepted within 5 min", R.NOT_ACCEPTED),
    ),
    Case(
        "not-accepted-at-the-deadline",
        _t("08:15:00"),
        S.OPEN,
        Assessment(A, "no helper accepted within 5 min", R.NOT_ACCEPTED),
    ),
    Case(
        "open-again-after-reassign",
        _t("08:07:00"),
        S.OPEN,
        Assessment(A, "no helper accepted within 5 min", R.NOT_ACCEPTED),
        accepted_at=_t("08:02:00"),
    ),
    Case(
        "accepted-in-time",
        _t("08:06:00"),
        S.ASSIGNED,
        ON_TRACK,
        accepted_at=_t("08:04:00"),
        eta=_t("08:11:00"),
    ),
    Case(
        "assigned-by-hand-without-accept-time",
        _t("08:06:00"),
        S.ASSIGNED,
        ON_TRACK,
    ),
    Case("general-accept-check-before", _t("08:09:59"), S.OPEN, ON_TRACK, Category.GENERAL),
    Case(
        "general-accept-check-exactly",
        _t("08:10:00"),
        S.OPEN,
        Assessment(A, "no helper accepted within 10 min", R.NOT_ACCEPTED),
        Category.GENERAL,
    ),
    Case(
        "accept-by-in-seconds",
        _t("08:01:30"),
        S.OPEN,
        Assessment(A, "no helper accepted within 90 s", R.NOT_ACCEPTED),
        policy=SlaPolicy.from_minutes(emergency_accept_by=1.5),
    ),
    # Nothing wrong.
    Case("fresh", _t("08:00:00"), S.OPEN, ON_TRACK),
    Case("offered-early", _t("08:01:00"), S.OFFERED, ON_TRACK, eta=_t("08:09:00")),
    Case("on-scene-without-arrival-time", _t("08:10:00"), S.ON_SCENE, ON_TRACK),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_assess_rule(case: Case) -> None:
    """Each rule gives its status, reason and code, and the first matching rule wins."""
    assert case.run() == case.expected


def test_reason_codes_are_stable_strings() -> None:
    """The console translates by these exact codes, so they never change."""
    assert {code.value for code in ReasonCode} == {
        "false_alarm",
        "arrived_late",
        "resolved_without_arrival",
        "deadline_passed",
        "eta_after_deadline",
        "no_candidate",
        "not_accepted",
    }
    assert {status.value for status in SlaStatus} == {
        "on_track",
        "at_risk",
        "breached",
        "met",
        "closed_unmeasured",
    }


def test_reason_clock_times_follow_display_tz() -> None:
    """A server that stores UTC gets reason times on the local clock it passes as display_tz."""
    created = T("2026-11-23T00:00:00+00:00")
    deadline = DEFAULT_POLICY.deadline(Category.EMERGENCY, created)
    beijing = timezone(timedelta(hours=8))
    late = assess(
        now=T("2026-11-23T00:16:00+00:00"),
        category=Category.EMERGENCY,
        state=State.OPEN,
        created_at=created,
        deadline=deadline,
        policy=DEFAULT_POLICY,
        display_tz=beijing,
    )
    assert late.reason == "deadline 08:15 passed without arrival"
    risky = assess(
        now=T("2026-11-23T00:03:00+00:00"),
        category=Category.EMERGENCY,
        state=State.ASSIGNED,
        created_at=created,
        deadline=deadline,
        eta=T("2026-11-23T00:17:00+00:00"),
        policy=DEFAULT_POLICY,
        display_tz=beijing,
    )
    assert risky.reason == "assigned helper's ETA 08:17 is after the deadline 08:15"


@pytest.mark.parametrize(
    "naive", ["now", "created_at", "deadline", "accepted_at", "eta", "arrived_at"]
)
def test_naive_datetimes_are_refused(naive: str) -> None:
    """assess() refuses any datetime argument without a UTC offset, naming it."""
    aware = T(CREATED)
    times = {
        "now": aware,
        "created_at": aware,
        "deadline": aware + timedelta(minutes=15),
        "accepted_at": aware,
        "eta": aware,
        "arrived_at": aware,
    }
    times[naive] = times[naive].replace(tzinfo=None)
    with pytest.raises(NaiveDatetimeError, match=f"^{naive} must be a timezone-aware"):
        assess(
            now=times["now"],
            category=Category.EMERGENCY,
            state=State.ASSIGNED,
            created_at=times["created_at"],
            deadline=times["deadline"],
            accepted_at=times["accepted_at"],
            eta=times["eta"],
            arrived_at=times["arrived_at"],
            policy=DEFAULT_POLICY,
        )
