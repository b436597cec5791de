"""The escalation ladder: what is scheduled per category, and when a due step fires."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sla import (
    DEFAULT_LADDER,
    Category,
    EscalationStep,
    InvalidConfiguration,
    Level,
    NaiveDatetimeError,
    SlaStatus,
    State,
    ladder_from_config,
    should_fire,
    steps_for,
)

T = datetime.fromisoformat
EMERGENCY = Category.EMERGENCY
GENERAL = Category.GENERAL
BOTH = frozenset(Category)

OPERATOR_AT_RISK = EscalationStep(Level.OPERATOR, SlaStatus.AT_RISK, timedelta(0), BOTH)
SUPERVISOR_BREACHED = EscalationStep(Level.SUPERVISOR, SlaStatus.BREACHED, timedelta(0), BOTH)
CALL_120 = EscalationStep(
    Level.EMERGENCY_SERVICES, SlaStatus.BREACHED, timedelta(minutes=5), frozenset({EMERGENCY})
)


def test_default_ladder() -> None:
    """Operator when at risk, supervisor when breached, 120 five minutes later for emergencies."""
    assert DEFAULT_LADDER == (OPERATOR_AT_RISK, SUPERVISOR_BREACHED, CALL_120)


@pytest.mark.parametrize(
    ("category", "trigger", "expected"),
    [
        (EMERGENCY, SlaStatus.AT_RISK, [OPERATOR_AT_RISK]),
        (GENERAL, SlaStatus.AT_RISK, [OPERATOR_AT_RISK]),
        (EMERGENCY, SlaStatus.BREACHED, [SUPERVISOR_BREACHED, CALL_120]),
        (GENERAL, SlaStatus.BREACHED, [SUPERVISOR_BREACHED]),
        (EMERGENCY, SlaStatus.ON_TRACK, []),
        (GENERAL, SlaStatus.MET, []),
    ],
)
def test_steps_for_category_and_trigger(
    category: Category, trigger: SlaStatus, expected: list[EscalationStep]
) -> None:
    """Entering a status schedules its steps for the category; general help never calls 120."""
    assert steps_for(DEFAULT_LADDER, category, trigger) == expected


def test_steps_are_ordered_soonest_first() -> None:
    """Steps come back by delay, then level, whatever order the ladder lists them in."""
    late = EscalationStep(Level.SUPERVISOR, SlaStatus.AT_RISK, timedelta(minutes=3), BOTH)
    assert steps_for([late, OPERATOR_AT_RISK], EMERGENCY, SlaStatus.AT_RISK) == [
        OPERATOR_AT_RISK,
        late,
    ]


def test_due_at_is_status_since_plus_delay() -> None:
    """The 120 timer of an emergency breached at 08:15 is due at 08:20, in the same offset."""
    assert CALL_120.due_at(T("2026-11-23T08:15:00+08:00")).isoformat() == (
        "2026-11-23T08:20:00+08:00"
    )
    assert SUPERVISOR_BREACHED.due_at(T("2026-11-23T08:15:00+08:00")) == T(
        "2026-11-23T08:15:00+08:00"
    )


def test_due_at_refuses_naive_datetimes() -> None:
    """A timer cannot be computed from a datetime without an offset."""
    with pytest.raises(NaiveDatetimeError, match="status_since"):
        CALL_120.due_at(T("2026-11-23T08:15:00"))


@pytest.mark.parametrize(
    ("step", "current_level", "state", "fires"),
    [
        (OPERATOR_AT_RISK, Level.NONE, State.OPEN, True),
        (OPERATOR_AT_RISK, Level.NONE, State.OFFERED, True),
        (OPERATOR_AT_RISK, Level.NONE, State.ASSIGNED, True),
        (OPERATOR_AT_RISK, Level.OPERATOR, State.OPEN, False),
        (OPERATOR_AT_RISK, Level.SUPERVISOR, State.OPEN, False),
        (SUPERVISOR_BREACHED, Level.OPERATOR, State.ASSIGNED, True),
        (SUPERVISOR_BREACHED, Level.NONE, State.OPEN, True),
        (CALL_120, Level.SUPERVISOR, State.OPEN, True),
        (CALL_120, Level.EMERGENCY_SERVICES, State.OPEN, False),
        (CALL_120, Level.SUPERVISOR, State.ON_SCENE, False),
        (CALL_120, Level.SUPERVISOR, State.RESOLVED, False),
        (CALL_120, Level.SUPERVISOR, State.CANCELLED, False),
        (SUPERVISOR_BREACHED, Level.OPERATOR, State.ON_SCENE, False),
    ],
)
def test_should_fire(step: EscalationStep, current_level: Level, state: State, fires: bool) -> None:
    """A due step fires only upwards and only while nobody is on scene and nothing is closed."""
    assert should_fire(step, current_level=current_level, state=state) is fires


@pytest.mark.parametrize(
    ("step", "status", "fires"),
    [
        (OPERATOR_AT_RISK, SlaStatus.AT_RISK, True),
        (OPERATOR_AT_RISK, SlaStatus.BREACHED, True),
        (OPERATOR_AT_RISK, SlaStatus.ON_TRACK, False),
        (CALL_120, SlaStatus.BREACHED, True),
        (CALL_120, SlaStatus.AT_RISK, False),
    ],
)
def test_should_fire_checks_the_current_status_when_given(
    step: EscalationStep, status: SlaStatus, fires: bool
) -> None:
    """A step needs the incident to be at least as bad as its trigger when it comes due."""
    assert should_fire(step, current_level=Level.NONE, state=State.OPEN, status=status) is fires


def test_ladder_from_config_builds_the_default_ladder() -> None:
    """Plain settings data describing the default ladder gives the same steps."""
    ladder = ladder_from_config(
        [
            {"level": "operator", "trigger": "at_risk"},
            {"level": 2, "trigger": "breached", "delay_seconds": 0},
            {
                "level": "EMERGENCY_SERVICES",
                "trigger": "breached",
                "delay_minutes": 5,
                "categories": ["emergency"],
            },
        ]
    )
    assert ladder == DEFAULT_LADDER


def test_ladder_from_config_accepts_fractional_delays() -> None:
    """Delays may be given in seconds or in fractional minutes."""
    (step,) = ladder_from_config(
        [{"level": "supervisor", "trigger": "at_risk", "delay_minutes": 1.5}]
    )
    assert step.delay == timedelta(seconds=90)
    assert step.categories == BOTH


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"level": "boss", "trigger": "at_risk"}, "level must be one of"),
        ({"level": True, "trigger": "at_risk"}, "level must be one of"),
        ({"level": "none", "trigger": "at_risk"}, "above NONE"),
        ({"level": "operator", "trigger": "met"}, "trigger must be"),
        ({"level": "operator"}, "trigger must be"),
        ({"level": 1, "trigger": "at_risk", "delay_seconds": "5"}, "must be a number"),
        ({"level": 1, "trigger": "at_risk", "delay_seconds": -1}, "cannot be negative"),
        (
            {"level": 1, "trigger": "at_risk", "delay_seconds": 1, "delay_minutes": 1},
            "not both",
        ),
        ({"level": 1, "trigger": "at_risk", "categories": "emergency"}, "must be a list"),
        ({"level": 1, "trigger": "at_risk", "categories": ["fire"]}, "unknown category"),
        ({"level": 1, "trigger": "at_risk", "categories": []}, "at least one category"),
        ({"level": 1, "trigger": "at_risk", "dealy_minutes": 5}, "unknown keys"),
    ],
)
def test_ladder_from_config_refuses_mistakes(entry: dict[str, object], message: str) -> None:
    """A misconfigured ladder fails at startup with a message saying what is wrong."""
    with pytest.raises(InvalidConfiguration, match=message):
        ladder_from_config([{"level": 1, "trigger": "at_risk"}, entry])


def test_config_errors_name_the_step() -> None:
    """The error says which entry of the list is wrong."""
    with pytest.raises(InvalidConfiguration, match=r"^escalation step 1: "):
        ladder_from_config([{"level": 1, "trigger": "at_risk"}, {"level": 9}])


def test_levels_are_ordered() -> None:
    """Levels compare by how far they reach."""
    assert Level.NONE < Level.OPERATOR < Level.SUPERVISOR < Level.EMERGENCY_SERVICES
