"""The protocol's error tree; every failure to read a frame is one of these.

::

    ProtocolError                 reason, device_id, msg_id, kind
     ├── TopicError               unknown or malformed topic, bad device id
     ├── PayloadError             not JSON, missing field, wrong type, bad coordinate,
     │                            timestamp without offset, unsupported version
     └── DeviceMismatchError      the payload's device_id is not the topic's

Pydantic's ``ValidationError`` is translated here, once, into a ``reason`` a duty engineer can read
in a log line without knowing pydantic. ``device_id``, ``msg_id`` and ``kind`` are filled in when
they can be read from the rejected frame, so the server can still answer with a ``rejected`` ack
(a device retries an unacknowledged SOS forever) and can tell an unreadable SOS from unreadable
telemetry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

if TYPE_CHECKING:
    from device_protocol.topics import Kind

__all__ = [
    "DeviceMismatchError",
    "PayloadError",
    "ProtocolError",
    "TopicError",
    "payload_error_from",
]

_COORDINATE_RANGES = {"lat": "-90..90", "lon": "-180..180"}
_BOUND_TYPES = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_TIMESTAMP_SHAPE = "expected RFC 3339 with an offset, like 2024-05-01T08:00:00+08:00"


class ProtocolError(Exception):
    """A frame that cannot be read as protocol v1."""

    def __init__(
        self,
        reason: str,
        *,
        device_id: str | None = None,
        msg_id: str | None = None,
        kind: Kind | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.device_id = device_id
        self.msg_id = msg_id
        self.kind = kind

    def __str__(self) -> str:
        return self.reason


class TopicError(ProtocolError):
    """The topic is not one of the protocol's, or its device id is malformed."""


class PayloadError(ProtocolError):
    """The payload is not a valid message for its topic."""


class DeviceMismatchError(ProtocolError):
    """The payload names a different device than the topic it was published on."""


def payload_error_from(exc: ValidationError) -> PayloadError:
    """Translate pydantic's error list into one readable reason."""
    errors = exc.errors(include_url=False)
    reason = _reason_of(errors[0])
    if len(errors) > 1:
        more = len(errors) - 1
        reason += f" (and {more} more problem{'s' if more > 1 else ''})"
    return PayloadError(reason)


def _reason_of(error: Any) -> str:
    kind: str = error["type"]
    loc: tuple[str | int, ...] = error["loc"]
    where = _dotted(loc)
    value = _short(error.get("input"))
    ctx: dict[str, Any] = error.get("ctx") or {}
    if kind == "json_invalid":
        return f"payload is not valid JSON: {ctx.get('error', error['msg'])}"
    if kind in {"model_type", "model_attributes_type", "dict_type"} and not loc:
        return "payload is not a JSON object"
    if kind == "missing":
        return f"missing field '{where}'"
    if where == "v" and kind == "literal_error":
        return f"unsupported protocol version {value} (this server speaks v1)"
    if kind == "timezone_aware":
        return f"timestamp without offset in '{where}'"
    if kind.startswith(("datetime_", "date_")):
        return f"bad timestamp in '{where}': {_TIMESTAMP_SHAPE}"
    if loc and loc[-1] in _COORDINATE_RANGES and kind in _BOUND_TYPES | {"finite_number"}:
        return f"bad coordinate: {loc[-1]} {value} is outside {_COORDINATE_RANGES[str(loc[-1])]}"
    if kind == "literal_error":
        return f"bad value {value} in '{where}': expected {ctx.get('expected', 'another value')}"
    if kind == "list_type":
        return f"bad value in '{where}': expected a list, got {value}"
    if kind == "extra_forbidden":
        return f"unexpected field '{where}'"
    return f"bad value {value} in '{where}': {_lower_first(error['msg'])}"


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _short(value: object) -> str:
    # Rejected payloads come from the outside world: keep one huge field from flooding the log.
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
