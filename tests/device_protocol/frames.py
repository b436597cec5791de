"""Frame tables and the invariant every decoded message must satisfy (as h11's and traccar's tests).

A frame is ``(topic, payload bytes)``. ``frame()`` builds one from a valid envelope plus the
fields under test, so each table row shows only what is special about it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel

from device_protocol import (
    INBOUND_KINDS,
    Envelope,
    Kind,
    Location,
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
    encoded = encode(message)
    assert read(topic, encoded) == message, "encode then decode gives an equal model"
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
