"""The escalation ladder: who is told, when an incident is at risk or breached.

A ladder is plain data, a sequence of `EscalationStep`s. When an incident *enters* AT_RISK or
BREACHED, the server asks `steps_for()` what to schedule and stores one timer per step, due at
`step.due_at(status_since)`. When a timer comes due it asks `should_fire()`, which says yes only
if the incident is still waiting for a helper and the step goes higher than the incident has
already gone. Levels are cumulative: reaching SUPERVISOR means operators are involved too, so an
incident that jumps straight to BREACHED needs no separate operator step.

The default ladder:

| level              | trigger  | delay | categories          |
|--------------------|----------|-------|---------------------|
| OPERATOR           | AT_RISK  | 0     | emergency, general  |
| SUPERVISOR         | BREACHED | 0     | emergency, general  |
| EMERGENCY_SERVICES | BREACHED | 5 min | emergency only      |

Why 120 only for emergencies, and only five minutes after the breach: general help (shopping,
repairs, company) that is late is a service failure for the supervisor to fix, not a medical
emergency, and calling 120 for it would take an ambulance from someone who needs one. For an
emergency, twenty minutes after the press with nobody on scene, the elder may be on the floor
and public emergency services are the fallback. The five minutes give the supervisor time to
call the elder back or send whoever is nearest, since a helper who is two minutes away is
faster than an ambulance.

Escalation stops once a helper is ON_SCENE (see `should_fire`): the arrival settles the
promise, met or breached, and the helper on scene calls 120 themselves if the elder needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum

from sla.assessment import SlaStatus
from sla.categories import Category
from sla.errors import InvalidConfiguration
from sla.lifecycle import AWAITING_ARRIVAL_STATES, State
from sla.timestamps import add_elapsed

__all__ = [
    "DEFAULT_LADDER",
    "EscalationStep",
    "Level",
    "ladder_from_config",
    "should_fire",
    "steps_for",
]

_TRIGGERS = frozenset({SlaStatus.AT_RISK, SlaStatus.BREACHED})
_SEVERITY = {SlaStatus.AT_RISK: 1, SlaStatus.BREACHED: 2}


class Level(IntEnum):
    """How far an incident has been escalated; higher reaches more people."""

    NONE = 0
    OPERATOR = 1
    """Alert on the operators' console."""
    SUPERVISOR = 2
    """The shift supervisor is called."""
    EMERGENCY_SERVICES = 3
    """Public emergency services (120) are called."""


@dataclass(frozen=True)
class EscalationStep:
    """Raise the incident to `level`, `delay` after it entered `trigger`, for `categories`."""

    level: Level
    trigger: SlaStatus
    delay: timedelta
    categories: frozenset[Category]

    def __post_init__(self) -> None:
        if self.level == Level.NONE:
            raise InvalidConfiguration("an escalation step must raise the level above NONE")
        if self.trigger not in _TRIGGERS:
            raise InvalidConfiguration(
                f"an escalation step triggers on at_risk or breached, not {self.trigger!s}"
            )
        if self.delay < timedelta(0):
            raise InvalidConfiguration(f"an escalation delay cannot be negative: {self.delay}")
        if not self.categories:
            raise InvalidConfiguration("an escalation step must apply to at least one category")

    def due_at(self, status_since: datetime) -> datetime:
        """When this step's timer is due, for an incident in `trigger` since `status_since`."""
        return add_elapsed("status_since", status_since, self.delay)


_ALL = frozenset(Category)

DEFAULT_LADDER: tuple[EscalationStep, ...] = (
    EscalationStep(Level.OPERATOR, SlaStatus.AT_RISK, timedelta(0), _ALL),
    EscalationStep(Level.SUPERVISOR, SlaStatus.BREACHED, timedelta(0), _ALL),
    EscalationStep(
        Level.EMERGENCY_SERVICES,
        SlaStatus.BREACHED,
        timedelta(minutes=5),
        frozenset({Category.EMERGENCY}),
    ),
)
"""Operator at risk, supervisor at breach, 120 five minutes after an emergency's breach."""


def steps_for(
    ladder: Iterable[EscalationStep], category: Category, trigger: SlaStatus
) -> list[EscalationStep]:
    """The steps to schedule when an incident of `category` enters `trigger`, soonest first."""
    chosen = [s for s in ladder if s.trigger == trigger and category in s.categories]
    return sorted(chosen, key=lambda s: (s.delay, s.level))


def should_fire(
    step: EscalationStep,
    *,
    current_level: Level,
    state: State,
    status: SlaStatus | None = None,
) -> bool:
    """Whether a timer for `step` that came due should escalate the incident now.

    Only while nobody is on scene yet (OPEN, OFFERED or ASSIGNED) and only upwards
    (`step.level > current_level`). If the current `status` is given, the step also needs it
    to be at least as severe as its trigger: an at-risk step does not fire once the incident is
    back on track.
    """
    if state not in AWAITING_ARRIVAL_STATES or step.level <= current_level:
        return False
    if status is None:
        return True
    return _SEVERITY.get(status, 0) >= _SEVERITY[step.trigger]


_STEP_KEYS = frozenset({"level", "trigger", "delay_seconds", "delay_minutes", "categories"})


def ladder_from_config(entries: Iterable[Mapping[str, object]]) -> tuple[EscalationStep, ...]:
    """Build a ladder from plain settings data, raising `InvalidConfiguration` on any mistake.

    Each entry is a mapping such as ``{"level": "emergency_services", "trigger": "breached",
    "delay_minutes": 5, "categories": ["emergency"]}``. `level` is a name (``operator``,
    ``supervisor``, ``emergency_services``) or its number; the delay is given at most once, in
    ``delay_seconds`` or ``delay_minutes`` (default 0); ``categories`` defaults to all.
    """
    return tuple(_step_from_config(i, entry) for i, entry in enumerate(entries))


def _step_from_config(index: int, entry: Mapping[str, object]) -> EscalationStep:
    where = f"escalation step {index}"
    unknown = sorted(set(entry) - _STEP_KEYS)
    if unknown:
        raise InvalidConfiguration(f"{where}: unknown keys {unknown}")
    return EscalationStep(
        level=_level(where, entry.get("level")),
        trigger=_trigger(where, entry.get("trigger")),
        delay=_delay(where, entry),
        categories=_categories(where, entry.get("categories", [c.value for c in Category])),
    )


def _level(where: str, raw: object) -> Level:
    if isinstance(raw, Level):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in set(Level):
        return Level(raw)
    if isinstance(raw, str) and raw.upper() in Level.__members__:
        return Level[raw.upper()]
    names = ", ".join(level.name.lower() for level in Level if level != Level.NONE)
    raise InvalidConfiguration(f"{where}: level must be one of {names}, got {raw!r}")


def _trigger(where: str, raw: object) -> SlaStatus:
    if isinstance(raw, str) and raw in {t.value for t in _TRIGGERS}:
        return SlaStatus(raw)
    raise InvalidConfiguration(f"{where}: trigger must be 'at_risk' or 'breached', got {raw!r}")


def _delay(where: str, entry: Mapping[str, object]) -> timedelta:
    given = [key for key in ("delay_seconds", "delay_minutes") if key in entry]
    if len(given) > 1:
        raise InvalidConfiguration(f"{where}: give delay_seconds or delay_minutes, not both")
    if not given:
        return timedelta(0)
    raw = entry[given[0]]
    if not isinstance(raw, int | float) or isinstance(raw, bool):
        raise InvalidConfiguration(f"{where}: {given[0]} must be a number, got {raw!r}")
    unit = "seconds" if given[0] == "delay_seconds" else "minutes"
    return timedelta(**{unit: raw})


def _categories(where: str, raw: object) -> frozenset[Category]:
    if isinstance(raw, str) or not isinstance(raw, Sequence | frozenset | set):
        raise InvalidConfiguration(f"{where}: categories must be a list, got {raw!r}")
    known = {c.value for c in Category}
    for item in raw:
        if item not in known:
            raise InvalidConfiguration(
                f"{where}: unknown category {item!r}, expected one of {sorted(known)}"
            )
    return frozenset(Category(item) for item in raw)
