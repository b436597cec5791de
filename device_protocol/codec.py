"""Turning (topic, payload bytes) into message models and back, with no I/O.

``decode`` is on the telemetry hot path (thousands of messages a second), so each payload is
parsed exactly once, by pydantic's Rust validator reading the bytes directly; the validators are
built when the models are defined, not per call, and every bound of ``limits`` is checked inside
that one parse. Everything slower happens only on the error path: peeking into a rejected payload
for its ``msg_id``, and re-reading an emergency whose only fault is its device clock.

``decode`` raises only ``ProtocolError`` subclasses, whatever the bytes and whatever the topic
string: an exception any parser raises on strange input is translated here, once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TypeVar

import orjson
import pydantic_core
from pydantic import BaseModel, ValidationError

from device_protocol.errors import (
    DeviceMismatchError,
    PayloadError,
    ProtocolError,
    TopicError,
    payload_error_from,
)
from device_protocol.limits import (
    CLOCK_MAX_AHEAD,
    CLOCK_MAX_BEHIND,
    MAX_ID_LENGTH,
    MAX_PAYLOAD_BYTES,
    PRINTABLE_PATTERN,
)
from device_protocol.messages import (
    Ack,
    AlarmEvent,
    CommandRequest,
    CommandResult,
    EmergencyEvent,
    Envelope,
    FallEvent,
    Heartbeat,
    InboundMessage,
    LocationReport,
    OutboundMessage,
    SosEvent,
    StatusReport,
    VitalsReport,
    with_server_clock,
)
from device_protocol.topics import Kind, Lane, lane_of, parse_topic, peek_device_id, topic_for

__all__ = ["decode", "decode_outbound", "encode", "peek_device_id", "topic_of"]

Payload = bytes | bytearray
M = TypeVar("M", bound=Envelope)

_INBOUND: Mapping[Kind, type[InboundMessage]] = {
    model.KIND: model
    for model in (
        SosEvent,
        FallEvent,
        AlarmEvent,
        LocationReport,
        VitalsReport,
        Heartbeat,
        StatusReport,
        CommandResult,
    )
}
_OUTBOUND: Mapping[Kind, type[OutboundMessage]] = {
    Ack.KIND: Ack,
    CommandRequest.KIND: CommandRequest,
}
_EMERGENCY = frozenset(kind for kind in _INBOUND if lane_of(kind) is Lane.EMERGENCY)
# What a parser may raise on strange input besides ValidationError (deep nesting, overflows, odd
# bytes); translated into PayloadError so that no frame, however built, can end an ingest lane.
_UNREADABLE = (ValueError, TypeError, ArithmeticError, RecursionError, LookupError)
# Where a device's clock shows in a message: an emergency is never refused for these alone.
_TIMESTAMP_LOCATIONS = (("ts",), ("location", "fix_ts"))
_MAX_BEHIND = -CLOCK_MAX_BEHIND
_PRINTABLE = re.compile(PRINTABLE_PATTERN.removeprefix("^").removesuffix("$"))


def decode(topic: str, payload: Payload, *, received_at: datetime | None = None) -> InboundMessage:
    """Read a device-to-server frame; raise a ``ProtocolError`` subclass if it is not valid v1.

    ``received_at`` is the server's receive time (timezone-aware; this package never reads the
    clock). When given, the device's ``ts`` must lie between ``CLOCK_MAX_BEHIND`` before and
    ``CLOCK_MAX_AHEAD`` after it.

    An emergency (sos, fall, alarm) is never refused for its clock: when its ``ts`` is outside
    that window, unusable (no offset, a Unix time, not a time) or missing, it decodes with ``ts``
    set to ``received_at`` and the reason in ``clock_rejected`` (an unusable ``location.fix_ts``
    is dropped the same way). Telemetry with such a ``ts`` is refused with a ``PayloadError``,
    except a ``status`` that is merely old: a retained status, and the MQTT Will, carry the time
    the device connected, which may be weeks ago. Without ``received_at`` no window applies and
    a bad ``ts`` is refused for every kind, as before.
    """
    if received_at is not None and received_at.utcoffset() is None:
        raise ValueError("received_at must be timezone-aware: it is the server's receive time")
    return _decode(topic, payload, _INBOUND, "server-to-device", received_at)


def decode_outbound(topic: str, payload: Payload) -> OutboundMessage:
    """Read a server-to-device frame (``ack``, ``cmd/req``), as a device or the simulator would."""
    return _decode(topic, payload, _OUTBOUND, "device-to-server", None)


def encode(message: BaseModel) -> bytes:
    """Compact JSON for ``message``; datetimes are RFC 3339 with offset, absent values omitted."""
    # Omitting nulls keeps frames small for 2G/NB-IoT devices; absent and null read the same.
    return message.model_dump_json(exclude_none=True).encode()


def topic_of(message: Envelope) -> str:
    """The topic ``message`` is published on."""
    return topic_for(message.device_id, message.KIND)


def _decode(
    topic: str,
    payload: Payload,
    models: Mapping[Kind, type[M]],
    other_direction: str,
    received_at: datetime | None,
) -> M:
    try:
        device_id, kind = parse_topic(topic)
    except TopicError as exc:
        exc.msg_id = _peek_msg_id(payload)
        raise
    try:
        model = models.get(kind)
        if model is None:
            raise TopicError(f"'{kind}' is a {other_direction} topic: it is not read on this side")
        message = _validate(model, payload, received_at if kind in _EMERGENCY else None)
        if message.device_id != device_id:
            raise DeviceMismatchError(
                f"payload device_id {message.device_id!r} does not match the topic's {device_id!r}"
            )
        if received_at is not None:
            message = _check_clock(message, kind, received_at)
    except ProtocolError as exc:
        # Best effort, so the server can still send a "rejected" ack and stop a device's retries.
        exc.device_id, exc.kind, exc.msg_id = device_id, kind, _peek_msg_id(payload)
        raise
    return message


def _validate(model: type[M], payload: Payload, server_clock: datetime | None) -> M:
    """Validate ``payload`` as ``model``; with ``server_clock``, forgive its timestamps alone."""
    if not payload:
        # An empty retained publish is how a broker's retained message (status) is cleared.
        raise PayloadError("empty payload (on a retained topic this clears the retained one)")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(
            f"payload of {len(payload)} bytes is over the limit of {MAX_PAYLOAD_BYTES} bytes"
        )
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        error = exc
    except _UNREADABLE as exc:
        raise PayloadError(f"payload could not be read ({type(exc).__name__})") from exc
    if server_clock is not None and _only_timestamps(error):
        message = _reread_on_server_clock(model, payload, error, server_clock)
        if message is not None:
            return message
    raise payload_error_from(error) from error


def _only_timestamps(error: ValidationError) -> bool:
    return all(
        detail["loc"] in _TIMESTAMP_LOCATIONS
        for detail in error.errors(include_url=False, include_context=False, include_input=False)
    )


def _reread_on_server_clock(
    model: type[M], payload: Payload, error: ValidationError, server_clock: datetime
) -> M | None:
    """An emergency whose only faults are its timestamps, read with the server's clock instead.

    The error path only, so a second parse is affordable: the same JSON parser pydantic uses reads
    the payload, ``ts`` is replaced by ``server_clock`` and a bad ``location.fix_ts`` is dropped,
    and the result is validated exactly as a frame off the wire would be.
    """
    try:
        document = pydantic_core.from_json(payload, allow_inf_nan=True)
        for detail in error.errors(include_url=False, include_context=False, include_input=False):
            if detail["loc"] == ("ts",):
                document["ts"] = server_clock.isoformat()
            else:
                del document["location"]["fix_ts"]
        message = model.model_validate_json(
            pydantic_core.to_json(document, inf_nan_mode="constants")
        )
    except (ValidationError, *_UNREADABLE):
        return None  # not expected once only timestamps failed; the original error is then shown
    if not isinstance(message, EmergencyEvent):
        return None
    return with_server_clock(message, server_clock, payload_error_from(error).reason)


def _check_clock(message: M, kind: Kind, received_at: datetime) -> M:
    """``message`` if its ``ts`` is in the window around ``received_at``; else flag or refuse."""
    ahead = message.ts - received_at  # one subtraction: comparing aware datetimes costs more
    if ahead > CLOCK_MAX_AHEAD:
        off = f"{_span(ahead)} ahead of"
    elif ahead < _MAX_BEHIND and kind is not Kind.STATUS:
        off = f"{_span(-ahead)} behind"
    else:
        return message
    window = f"at most {_span(CLOCK_MAX_AHEAD)} ahead, {_span(CLOCK_MAX_BEHIND)} behind"
    reason = (
        f"timestamp {message.ts.isoformat()} in 'ts' is outside the accepted window:"
        f" {off} the server's clock ({window})"
    )
    if isinstance(message, EmergencyEvent):
        return with_server_clock(message, received_at, reason)
    raise PayloadError(reason)


def _span(delta: timedelta) -> str:
    if delta >= timedelta(days=2):
        return f"{delta.days} days"
    if delta >= timedelta(hours=2):
        return f"{delta // timedelta(hours=1)} hours"
    return f"{delta // timedelta(minutes=1)} minutes"


def _peek_msg_id(payload: Payload) -> str | None:
    """The payload's ``msg_id`` if it is one ``decode`` would accept; else None, never a guess."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        document = orjson.loads(payload)
    except _UNREADABLE:
        return None
    if not isinstance(document, dict):
        return None
    msg_id = document.get("msg_id")
    if (
        isinstance(msg_id, str)
        and 0 < len(msg_id) <= MAX_ID_LENGTH
        and _PRINTABLE.fullmatch(msg_id) is not None
    ):
        return msg_id
    return None
