"""The server's domain errors, translated once into HTTP statuses by the web layer.

DispatchError
├── NotFound        an incident, helper, elder or device id that does not exist
├── Conflict        an action the incident's or helper's current state does not allow
└── InvalidInput    well-formed but unacceptable input (e.g. a bad CSV row, by line and field)

The web layer answers each as an RFC 9457 problem (``dispatcher/web/problems.py``).
"""

from __future__ import annotations


class DispatchError(Exception):
    """Base of the server's domain errors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DispatchError):
    """The thing asked for does not exist."""


class Conflict(DispatchError):
    """The current state does not allow this action."""


class InvalidInput(DispatchError):
    """Input that parses but cannot be accepted; where known, the line and field at fault."""

    def __init__(self, message: str, *, line: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.field = field
