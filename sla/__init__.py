"""The incident lifecycle and its promise, as pure functions of data and `now`.

No I/O and no clock: every instant comes in as an aware datetime argument and every decision
goes out as a value. The server stores what these functions compute; the simulator runs them in
simulated time.

* `categories`: `Category` (emergency, general).
* `lifecycle`: `State`, `Event`, the one `TRANSITIONS` table, `transition()`.
* `policy`: `SlaPolicy` (arrival, accept-by and offer-timeout durations per category).
* `assessment`: `assess()` → `Assessment` (on track, at risk, breached, met, unmeasured).
* `escalation`: `Level`, `EscalationStep`, `DEFAULT_LADDER`, `steps_for()`, `should_fire()`.
* `compliance`: `Outcome` → `compliance()` → `ComplianceFigures` per category.
* `errors`: `SlaError` and its subclasses.
"""

from sla.assessment import Assessment, ReasonCode, SlaStatus, assess
from sla.categories import Category
from sla.compliance import ComplianceFigures, Outcome, compliance, nearest_rank
from sla.errors import InvalidConfiguration, InvalidTransition, NaiveDatetimeError, SlaError
from sla.escalation import (
    DEFAULT_LADDER,
    EscalationStep,
    Level,
    ladder_from_config,
    should_fire,
    steps_for,
)
from sla.lifecycle import (
    AWAITING_ARRIVAL_STATES,
    OPEN_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    Event,
    State,
    allowed_events,
    is_terminal,
    transition,
)
from sla.policy import DEFAULT_POLICY, SlaPolicy

__all__ = [
    "AWAITING_ARRIVAL_STATES",
    "DEFAULT_LADDER",
    "DEFAULT_POLICY",
    "OPEN_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "Assessment",
    "Category",
    "ComplianceFigures",
    "EscalationStep",
    "Event",
    "InvalidConfiguration",
    "InvalidTransition",
    "Level",
    "NaiveDatetimeError",
    "Outcome",
    "ReasonCode",
    "SlaError",
    "SlaPolicy",
    "SlaStatus",
    "State",
    "allowed_events",
    "assess",
    "compliance",
    "is_terminal",
    "ladder_from_config",
    "nearest_rank",
    "should_fire",
    "steps_for",
    "transition",
]
