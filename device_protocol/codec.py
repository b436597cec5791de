"""Turning (topic, payload bytes) into message models and back, with no I/O.

``decode`` is on the telemetry hot path (thousands of messages a second), so each payload is
parsed exactly once, by pydantic's Rust validator reading the bytes directly; the validators are
built when the models are defined, not per call. Everything slower (peeking into a rejected
payload for its ``msg_id``) happens only on the error path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from device_protocol.errors import (
    DeviceMismatchError,
    PayloadError,
    ProtocolError,
    TopicError,
    payload_error_from,
)
from device_protocol.messages import (
    Ack,
    AlarmEvent,
    CommandRequest,
    CommandResult,
    Envelope,
    FallEvent,
    Heartbeat,
    InboundMessage,
    LocationReport,
    OutboundMessage,
    SosEvent,
    StatusReport,
    VitalsReport,
)
from device_protocol.topics import Kind, parse_topic, peek_device_id, topic_for

__all__ = ["decode", "decode_outbound", "encode", "peek_device_id", "topic_of"]

Payload = bytes | bytearray
M = TypeVar("M", bound=Envelope)

_INBOUND: Mapping[Kind, Callable[[Payload], InboundMessage]] = {
    model.KIND: model.model_validate_json
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
_OUTBOUND: Mapping[Kind, Callable[[Payload], OutboundMessage]] = {
    Ack.KIND: Ack.model_validate_json,
    CommandRequest.KIND: CommandRequest.model_validate_json,
}


def decode(topic: str, payload: Payload) -> InboundMessage:
    """Read a device-to-server frame; raise a ``ProtocolError`` subclass if it is not valid v1."""
    return _decode(topic, payload, _INBOUND, "server-to-device")


def decode_outbound(topic: str, payload: Payload) -> OutboundMessage:
    """Read a server-to-device frame (``ack``, ``cmd/req``), as a device or the simulator would."""
    return _decode(topic, payload, _OUTBOUND, "device-to-server")


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
    validators: Mapping[Kind, Callable[[Payload], M]],
    other_direction: str,
) -> M:
    try:
        device_id, kind = parse_topic(topic)
    except TopicError as exc:
        exc.msg_id = _peek_msg_id(payload)
        raise
    try:
        validate = validators.get(kind)
        if validate is None:
            raise TopicError(f"'{kind}' is a {other_direction} topic: it is not read on this side")
        if not payload:
            # An empty retained publish is how a broker's retained message (status) is cleared.
            raise PayloadError("empty payload (on a retained topic this clears the retained one)")
        try:
            message = validate(payload)
        except ValidationError as exc:
            raise payload_error_from(exc) from exc
        if message.device_id != device_id:
            raise DeviceMismatchError(
                f"payload device_id {message.device_id!r} does not match the topic's {device_id!r}"
            )
    except ProtocolError as exc:
        # Best effort, so the server can still send a "rejected" ack and stop a device's retries.
        exc.device_id, exc.kind, exc.msg_id = device_id, kind, _peek_msg_id(payload)
        raise
    return message


def _peek_msg_id(payload: Payload) -> str | None:
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    msg_id = document.get("msg_id")
    if isinstance(msg_id, str) and 0 < len(msg_id) <= 64:
        return msg_id
    return None
