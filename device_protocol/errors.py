"""The protocol's error tree; every failure to read a frame is one of these.

::

    ProtocolError                 reason, device_id, msg_id, kind
     ├── TopicError               unknown or malformed topic, bad device id
     ├── PayloadError             not JSON, too large, missing field, wrong type, out of range,
     │                            control character, bad coordinate, unusable timestamp,
     │                            timestamp outside the window, unsupported version
     └── DeviceMismatchError      the payload's device_id is not the topic's

Pydantic's ``ValidationError`` is translated here, once, into a ``reason`` a duty engineer can read
in a log line without knowing pydantic. ``device_id``, ``msg_id`` and ``kind`` are filled in when
they can be read from the rejected frame, so the server can still answer with a ``rejected`` ack
(a device retries an unacknowledged SOS forever) and can tell an unreadable SOS from unreadable
telemetry.

A ``reason`` is always one printable line of at most ``MAX_REASON_LENGTH`` characters: quoted
input is shortened and control characters escaped, so it can go into a log line, a database text
column or an ``ack`` as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from device_protocol.limits import MAX_REASON_LENGTH

if TYPE_CHECKING:
    from device_protocol.topics import Kind

__all__ = [
    "DeviceMismatchError",
    "PayloadError",
    "ProtocolError",
    "TopicError",
    "payload_error_from",
    "short_repr",
]

_COORDINATE_RANGES = {"lat": "-90..90", "lon": "-180..180"}
_BOUND_TYPES = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal"})
_TIMESTAMP_SHAPE = "expected RFC 3339 with an offset, like 2024-05-01T08:00:00+08:00"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SHORT = 60


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
        reason = _printable(reason)
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
    value = short_repr(error.get("input"))
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
    if kind == "timestamp_range":
        return f"timestamp out of range in '{where}': {value} (years 0001 and 9999 are refused)"
    if kind == "string_pattern_mismatch" and _has_control(error.get("input")):
        return f"control character in '{where}'"
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


def short_repr(value: object) -> str:
    """``repr(value)`` cut to 60 characters: rejected input must not flood a log line."""
    if isinstance(value, str | bytes) and len(value) > _SHORT:
        value = value[:_SHORT]  # a 10 MB string is not copied whole just to be cut
    text = repr(value)
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


def _has_control(value: object) -> bool:
    return isinstance(value, str) and _CONTROL.search(value) is not None


def _printable(reason: str) -> str:
    # A safety net: reasons quote input through repr(), which escapes these already.
    reason = _CONTROL.sub(lambda found: repr(found.group())[1:-1], reason)
    if len(reason) > MAX_REASON_LENGTH:
        reason = reason[: MAX_REASON_LENGTH - 3] + "..."
    return reason


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
