"""Frame tables and the invariant every decoded message must satisfy (as h11's and traccar's tests).

A frame is ``(topic, payload bytes)``. ``frame()`` builds one from a valid envelope plus the
fields under test, so each table row shows only what is special about it. ``check_bounded`` is
the safety half of the invariant: what the server may store and log without a second look.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel

from device_protocol import (
    INBOUND_KINDS,
    INT32_MAX,
    INT64_MAX,
    MAX_ACCURACY_M,
    MAX_ALARM_CODE_LENGTH,
    MAX_ALARMS,
    MAX_BLOOD_PRESSURE_MMHG,
    MAX_CELSIUS,
    MAX_DETAIL_LENGTH,
    MAX_HEART_RATE_BPM,
    MAX_ID_LENGTH,
    MAX_INTERVAL_S,
    MAX_REASON_LENGTH,
    MAX_TRIGGER_LENGTH,
    Envelope,
    Kind,
    Location,
    ProtocolError,
    decode,
    decode_outbound,
    encode,
    parse_topic,
    topic_for,
    topic_of,
)

DEVICE = "860000000000001"
TS = "2024-05-01T08:00:00+08:00"
FIX = {"lat": 22.5431, "lon": 114.0579, "acc_m": 8.5, "fix": "gnss", "fix_ts": TS}

Frame = tuple[str, bytes]


def frame(kind: Kind, *, device: str = DEVICE, drop: tuple[str, ...] = (), **fields: Any) -> Frame:
    """A frame on ``kind``'s topic: a valid envelope updated with ``fields``, minus ``drop``."""
    body: dict[str, Any] = {"v": 1, "msg_id": "m-1", "device_id": device, "ts": TS}
    body.update(fields)
    for name in drop:
        del body[name]
    return topic_for(device, kind), orjson.dumps(body)


def raw(kind: Kind, payload: bytes) -> Frame:
    """A frame with a literal payload, for bytes no dict could produce."""
    return topic_for(DEVICE, kind), payload


# Minimal valid bodies per kind, reused by the error tables to break one thing at a time.
MINIMAL: dict[Kind, dict[str, Any]] = {
    Kind.SOS: {"state": "raised"},
    Kind.FALL: {"state": "raised"},
    Kind.ALARM: {"alarms": ["low_battery"]},
    Kind.LOCATION: {"location": FIX},
    Kind.VITALS: {},
    Kind.HEARTBEAT: {"battery_pct": 80, "charging": False, "interval_s": 300},
    Kind.STATUS: {"state": "online"},
    Kind.CMD_RES: {"ack_of": "srv-1", "ok": True},
    Kind.ACK: {"ack_of": "m-1", "result": "accepted"},
    Kind.CMD_REQ: {"cmd": "locate_now"},
}


def read(topic: str, payload: bytes) -> Envelope:
    """Decode a frame of either direction, as the side that receives it would."""
    if parse_topic(topic)[1] in INBOUND_KINDS:
        return decode(topic, payload)
    return decode_outbound(topic, payload)


def check_invariants(topic: str, payload: bytes, message: Envelope) -> None:
    """Assert what must hold for every message ``decode`` ever returns."""
    device_id, kind = parse_topic(topic)
    assert message.device_id == device_id
    assert message.KIND is kind
    assert topic_of(message) == topic
    assert message.v == 1
    assert 1 <= len(message.msg_id) <= 64
    for moment in _datetimes(message):
        assert moment.utcoffset() is not None, "every timestamp is timezone-aware"
    for location in _locations(message):
        assert -90 <= location.lat <= 90
        assert -180 <= location.lon <= 180
        assert location.acc_m is None or location.acc_m >= 0
    check_bounded(message)
    encoded = encode(message)
    again = read(topic, encoded)
    # model_dump, not ==: a decode flag (clock_rejected) is not a wire field and does not travel.
    assert type(again) is type(message), "encode then decode gives the same model"
    assert again.model_dump() == message.model_dump(), "encode then decode gives an equal model"
    assert b"\n" not in encoded
    assert datetime.fromisoformat(orjson.loads(encoded)["ts"]).utcoffset() is not None


def _datetimes(model: BaseModel) -> list[datetime]:
    found: list[datetime] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, datetime):
            found.append(value)
        elif isinstance(value, BaseModel):
            found.extend(_datetimes(value))
    return found


def _locations(model: BaseModel) -> list[Location]:
    return [
        value
        for name in type(model).model_fields
        if isinstance(value := getattr(model, name), Location)
    ]


# The documented bounds, written out again here (not read from the models) so the test checks the
# models against the spec rather than against themselves. A field missing here fails the check.
NUMBER_BOUNDS: dict[str, tuple[float, float]] = {
    "v": (1, 1),
    "seq": (0, INT64_MAX),
    "battery_pct": (0, 100),
    "signal_pct": (0, 100),
    "interval_s": (1, MAX_INTERVAL_S),
    "bpm": (0, MAX_HEART_RATE_BPM),
    "systolic": (0, MAX_BLOOD_PRESSURE_MMHG),
    "diastolic": (0, MAX_BLOOD_PRESSURE_MMHG),
    "pct": (0, 100),
    "lat": (-90, 90),
    "lon": (-180, 180),
    "acc_m": (0, MAX_ACCURACY_M),
    "confidence": (0, 1),
    "celsius": (0, MAX_CELSIUS),
    "incident_id": (-INT32_MAX - 1, INT32_MAX),
}
TEXT_BOUNDS: dict[str, int] = {
    "msg_id": MAX_ID_LENGTH,
    "device_id": 64,
    "ack_of": MAX_ID_LENGTH,
    "trigger": MAX_TRIGGER_LENGTH,
    "alarms": MAX_ALARM_CODE_LENGTH,
    "detail": MAX_DETAIL_LENGTH,
    "state": 16,
    "fix": 8,
    "status": 16,
    "result": 16,
    "cmd": 32,
    # Written by the server, not a device: bounded by what the server puts there.
    "prompt": 500,
    "reason": 500,
}
LIST_BOUNDS: dict[str, tuple[int, int]] = {"alarms": (1, MAX_ALARMS)}
WIRE_DEFINED = frozenset({"args"})  # cmd/req arguments: the device's business, sent verbatim
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_bounded(model: BaseModel) -> None:
    """Assert every field of ``model`` (recursively) is within the contract's documented limits.

    Text has no control character and fits its column; integers fit their range (and 32 bits,
    but ``seq``); floats are finite and in range; datetimes are aware and convert to UTC.
    """
    for name in type(model).model_fields:
        if name not in WIRE_DEFINED:
            _check_value(name, getattr(model, name))


def _check_value(name: str, value: object) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, BaseModel):
        check_bounded(value)
    elif isinstance(value, datetime):
        assert value.utcoffset() is not None, f"{name}: naive datetime"
        value.astimezone(UTC)  # raises OverflowError if the instant is not representable
    elif isinstance(value, int | float):
        low, high = NUMBER_BOUNDS[name]
        assert math.isfinite(value), f"{name}: {value} is not finite"
        assert low <= value <= high, f"{name}: {value} is outside {low}..{high}"
        if isinstance(value, int) and name != "seq":
            assert -(2**31) <= value <= INT32_MAX, f"{name}: {value} does not fit 32 bits"
    elif isinstance(value, str):
        assert _CONTROL.search(value) is None, f"{name}: control character in {value!r}"
        assert len(value) <= TEXT_BOUNDS[name], f"{name}: {len(value)} characters"
        value.encode("utf-8")  # raises on a lone surrogate, as a database driver would
    elif isinstance(value, list):
        low, high = LIST_BOUNDS[name]
        assert low <= len(value) <= high, f"{name}: {len(value)} items"
        for item in value:
            _check_value(name, item)
    else:
        raise AssertionError(f"{name}: unexpected {type(value).__name__} in a decoded message")


def check_refusal(error: ProtocolError) -> None:
    """Assert a refusal is one the server can log, store and answer as it is."""
    assert error.reason, "a refusal says why"
    assert len(error.reason) <= MAX_REASON_LENGTH
    assert _CONTROL.search(error.reason) is None, f"control character in {error.reason!r}"
    error.reason.encode("utf-8")
    if error.msg_id is not None:
        assert 1 <= len(error.msg_id) <= MAX_ID_LENGTH
        assert _CONTROL.search(error.msg_id) is None
        error.msg_id.encode("utf-8")
    if error.device_id is not None:
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", error.device_id)
