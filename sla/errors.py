"""The errors the `sla` package raises: one small tree.

```
SlaError                  base of everything raised on purpose by `sla`
├── InvalidTransition     an event the lifecycle table does not allow in the current state
├── NaiveDatetimeError    a datetime without a UTC offset (also a ValueError)
└── InvalidConfiguration  a policy or escalation ladder built from bad values (also a ValueError)
```

`InvalidTransition` is an expected outcome for a server, not a crash: a timer that fires after
the incident moved on (an offer expiry after the helper already declined) or a helper's app that
sends "accept" twice both end here. Catch it, record it, and go on.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sla.lifecycle import Event, State

__all__ = ["InvalidConfiguration", "InvalidTransition", "NaiveDatetimeError", "SlaError"]


class SlaError(Exception):
    """Base class of every error the `sla` package raises on purpose."""


class InvalidTransition(SlaError):
    """The transition table has no entry for this (state, event) pair."""

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(state, event)
        self.state = state
        self.event = event

    def __str__(self) -> str:
        return f"event '{self.event}' is not allowed for an incident in state '{self.state}'"


class NaiveDatetimeError(SlaError, ValueError):
    """A datetime without a UTC offset reached the package; every instant must be aware."""

    def __init__(self, name: str, value: object) -> None:
        super().__init__(name, value)
        self.name = name
        self.value = value

    def __str__(self) -> str:
        shown = self.value.isoformat() if isinstance(self.value, datetime) else repr(self.value)
        return f"{self.name} must be a timezone-aware datetime, got naive {shown}"


class InvalidConfiguration(SlaError, ValueError):
    """A policy or escalation ladder was built from values that cannot be right."""
