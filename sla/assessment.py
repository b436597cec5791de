"""Assessment: where an incident stands against its promise at a given instant.

`assess()` is a pure function of the incident's facts and `now`. The first rule that matches
decides, in this order:

| # | when                                          | status            | code                     |
|---|-----------------------------------------------|-------------------|--------------------------|
| 1 | state is CANCELLED (confirmed false alarm)    | CLOSED_UNMEASURED | false_alarm              |
| 2 | arrived at or before the deadline             | MET               | –                        |
| 3 | arrived after the deadline                    | BREACHED          | arrived_late             |
| 4 | RESOLVED with no arrival (table forbids it)   | BREACHED          | resolved_without_arrival |
| 5 | not arrived and `now` is after the deadline   | BREACHED          | deadline_passed          |
| 6 | OFFERED/ASSIGNED, helper's ETA after deadline | AT_RISK           | eta_after_deadline       |
| 7 | OPEN and no helper can be offered             | AT_RISK           | no_candidate             |
| 8 | OPEN or OFFERED and `now` ≥ the accept check  | AT_RISK           | not_accepted             |
| 9 | otherwise                                     | ON_TRACK          | –                        |

Boundaries: arriving exactly at the deadline is MET, and at `now == deadline` the incident is
not breached yet (someone may still arrive in that instant). An ETA exactly at the deadline is on
track. The accept check is inclusive: at exactly five minutes an emergency nobody accepted is at
risk. Cancelled comes first so that a false alarm is never measured, even if a helper got there,
the same rule `compliance()` uses.

Whether a helper has accepted is read from `state` (ASSIGNED or later), not from `accepted_at`:
after a REASSIGN the incident is OPEN again and rules 7 and 8 apply once more, whatever an earlier
acceptance time says. Reasons are short English sentences with clock times on the deadline's
wall clock (or `display_tz`'s); the console translates them by `code`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum

from sla.categories import Category
from sla.lifecycle import State
from sla.policy import SlaPolicy
from sla.timestamps import clock_time, elapsed, require_aware, to_utc

__all__ = ["Assessment", "ReasonCode", "SlaStatus", "assess"]


class SlaStatus(StrEnum):
    """How an incident stands against its deadline."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    CLOSED_UNMEASURED = "closed_unmeasured"


class ReasonCode(StrEnum):
    """Stable machine code of an assessment's reason, for translation and filtering."""

    FALSE_ALARM = "false_alarm"
    ARRIVED_LATE = "arrived_late"
    RESOLVED_WITHOUT_ARRIVAL = "resolved_without_arrival"
    DEADLINE_PASSED = "deadline_passed"
    ETA_AFTER_DEADLINE = "eta_after_deadline"
    NO_CANDIDATE = "no_candidate"
    NOT_ACCEPTED = "not_accepted"


@dataclass(frozen=True)
class Assessment:
    """A status with, unless on track or met, why: an English sentence and a stable code."""

    status: SlaStatus
    reason: str | None = None
    code: ReasonCode | None = None


_ON_TRACK = Assessment(SlaStatus.ON_TRACK)
_MET = Assessment(SlaStatus.MET)


def assess(
    *,
    now: datetime,
    category: Category,
    state: State,
    created_at: datetime,
    deadline: datetime,
    accepted_at: datetime | None = None,
    eta: datetime | None = None,
    arrived_at: datetime | None = None,
    has_candidates: bool = True,
    policy: SlaPolicy,
    display_tz: tzinfo | None = None,
) -> Assessment:
    """Assess one incident at `now`; see the module docstring for the rules and their order.

    `deadline` is the stored one (fixed at creation), `eta` the estimated arrival of the helper
    currently offered or assigned (ignored while OPEN), `has_candidates` whether the matcher has
    anybody left to offer to. Clock times in reasons are shown in `display_tz`, by default the
    deadline's own zone: a server that stores UTC passes its local zone here. Every datetime must
    be aware, else `NaiveDatetimeError`.
    """
    now_utc = to_utc("now", now)
    deadline_utc = to_utc("deadline", deadline)
    require_aware("created_at", created_at)
    if accepted_at is not None:
        require_aware("accepted_at", accepted_at)
    if eta is not None:
        require_aware("eta", eta)
    if arrived_at is not None:
        require_aware("arrived_at", arrived_at)
    shown_deadline = deadline.astimezone(display_tz) if display_tz is not None else deadline

    if state == State.CANCELLED:
        return Assessment(
            SlaStatus.CLOSED_UNMEASURED,
            "confirmed as a false alarm; not measured",
            ReasonCode.FALSE_ALARM,
        )
    if arrived_at is not None:
        late = elapsed(deadline, arrived_at)
        if late <= timedelta(0):
            return _MET
        return Assessment(
            SlaStatus.BREACHED,
            f"arrived {_whole_minutes(late)} min after the deadline",
            ReasonCode.ARRIVED_LATE,
        )
    if state == State.RESOLVED:
        return Assessment(
            SlaStatus.BREACHED,
            "closed without a recorded arrival",
            ReasonCode.RESOLVED_WITHOUT_ARRIVAL,
        )
    if now_utc > deadline_utc:
        return Assessment(
            SlaStatus.BREACHED,
            f"deadline {clock_time(shown_deadline)} passed without arrival",
            ReasonCode.DEADLINE_PASSED,
        )
    helper_attached = state in (State.OFFERED, State.ASSIGNED)
    if helper_attached and eta is not None and to_utc("eta", eta) > deadline_utc:
        who = "assigned" if state == State.ASSIGNED else "offered"
        return Assessment(
            SlaStatus.AT_RISK,
            f"{who} helper's ETA {clock_time(eta, like=shown_deadline)} "
            f"is after the deadline {clock_time(shown_deadline)}",
            ReasonCode.ETA_AFTER_DEADLINE,
        )
    if state == State.OPEN and not has_candidates:
        return Assessment(SlaStatus.AT_RISK, "no helper can be offered", ReasonCode.NO_CANDIDATE)
    if state in (State.OPEN, State.OFFERED):
        check_at = policy.accept_check_at(category, created_at)
        if now_utc >= to_utc("created_at", check_at):
            return Assessment(
                SlaStatus.AT_RISK,
                f"no helper accepted within {_duration(policy.accept_by[category])}",
                ReasonCode.NOT_ACCEPTED,
            )
    return _ON_TRACK


def _whole_minutes(duration: timedelta) -> int:
    """Minutes, rounded up: 30 s late reads "1 min", never "0 min"."""
    return math.ceil(duration / timedelta(minutes=1))


def _duration(duration: timedelta) -> str:
    """Say "5 min" for whole minutes and "90 s" otherwise."""
    seconds = duration.total_seconds()
    if seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
