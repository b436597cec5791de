"""Hostile device messages for every inbound topic, seeded: the fuzz run's and the tests' source.

``Fuzzer(seed, devices)`` builds a valid v1 frame for a random inbound kind and device, then
damages it the ways real and malicious devices do: a field set to a hostile value (NUL and other
control characters, strings past every column, integers past 32 and 64 bits, non-finite numbers
as raw JSON tokens, timestamps of year 1 and 9999 with ±23:59 offsets, wrong types), fields
dropped, the device id of another device, a topic segment that is not a device id, or a payload
that is not JSON at all (random bytes, truncated, nested 100,000 deep, 200 KB). About one frame
in six is left valid, so the store sees a mix. Each frame's ``msg_id`` is unique unless a
mutation replaced it.

The same seed gives the same frames, apart from timestamps, which are relative to ``now``.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from device_protocol import Kind, topic_for

INBOUND = (
    Kind.SOS,
    Kind.FALL,
    Kind.ALARM,
    Kind.LOCATION,
    Kind.VITALS,
    Kind.HEARTBEAT,
    Kind.STATUS,
    Kind.CMD_RES,
)
EMERGENCY = frozenset({Kind.SOS, Kind.FALL, Kind.ALARM})


class Raw(str):
    """A JSON token written as is (``NaN``, ``1e999``, a 400-digit integer)."""


HOSTILE_STRINGS: tuple[str, ...] = (
    "",
    "\x00",
    "a\x00b",
    "\x00" * 64,
    "line\nbreak",
    "\x1b[31mred",
    "\x7f\x85\x9f",
    "\u202eevil",
    "\ud800",  # a lone surrogate: valid JSON text, invalid UTF-8
    "x" * 65,
    "x" * 201,
    "长" * 300,
    "x" * 10_000,
    "🚑" * 64,
    "' OR 1=1 --",
    "%s%s%n",
    "low_battery," * 30,
)
HOSTILE_NUMBERS: tuple[Any, ...] = (
    -1,
    0,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**63,
    10**12,
    10**30,
    1e308,
    -1e308,
    0.5,
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("1e999"),
    Raw("9" * 400),
    Raw("9" * 5000),
)
HOSTILE_TIMES: tuple[Any, ...] = (
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59+23:59",
    "1970-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-11-23T14:30:00",
    "2026-11-23T14:30:00+99:00",
    "yesterday",
    0,
    1_700_000_000,
    "1700000000",
)
HOSTILE_OTHERS: tuple[Any, ...] = (
    None,
    True,
    [],
    {},
    ["a"] * 1000,
    [{"x": 1}] * 50,
    {"nested": {"deeper": [1, 2, {"x": None}]}},
)
JUNK_PAYLOADS: tuple[bytes, ...] = (
    b"",
    b"null",
    b"[]",
    b"42",
    b'"just a string"',
    b"\x00\xff\xfe",
    b"{",
    b'{"v": 1, "msg_id": ',
    b"[" * 100_000,
    b'{"a":' * 5_000,
    b"\xef\xbb\xbf{}",
    b'{"v": 1}' + b" " * 200_000,
)


@dataclass(frozen=True)
class Frame:
    """One message as published: topic, payload, and what was done to it."""

    topic: str
    payload: bytes
    note: str

    @property
    def kind(self) -> str:
        return self.topic.split("/", 4)[-1] if self.topic.count("/") >= 4 else ""


def valid_body(kind: Kind, device_id: str, msg_id: str, now: datetime) -> dict[str, Any]:
    """A valid v1 message of ``kind`` (as of the contract's first version)."""
    ts = now.astimezone(UTC).isoformat()
    location = {"lat": 23.3701, "lon": 116.7001, "acc_m": 12.0, "fix": "gnss", "fix_ts": ts}
    envelope: dict[str, Any] = {"v": 1, "msg_id": msg_id, "device_id": device_id, "ts": ts}
    bodies: dict[Kind, dict[str, Any]] = {
        Kind.SOS: {"state": "raised", "trigger": "button", "location": location, "battery_pct": 64},
        Kind.FALL: {"state": "raised", "location": location, "battery_pct": 50, "confidence": 0.9},
        Kind.ALARM: {"alarms": ["low_battery", "removed"], "location": location, "battery_pct": 9},
        Kind.LOCATION: {"location": location},
        Kind.VITALS: {
            "heart_rate": {"bpm": 72, "status": "valid"},
            "blood_pressure": {"systolic": 120, "diastolic": 80, "status": "valid"},
            "spo2": {"pct": 97, "status": "valid"},
            "temperature": {"celsius": 36.6, "status": "valid"},
        },
        Kind.HEARTBEAT: {
            "battery_pct": 80,
            "charging": False,
            "signal_pct": 70,
            "worn": True,
            "interval_s": 300,
        },
        Kind.STATUS: {"state": "online"},
        Kind.CMD_RES: {"ack_of": "cmd-1", "ok": True, "detail": "done"},
    }
    return {**envelope, **bodies[kind]}


def encode_json(body: Any) -> bytes:
    """JSON with ``Raw`` tokens spliced in as written (json.dumps cannot emit NaN on purpose)."""
    raws: list[str] = []

    def mark(value: Any) -> Any:
        if isinstance(value, Raw):
            raws.append(str(value))
            return f"__raw_{len(raws) - 1}__"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(body), ensure_ascii=True)
    for i, raw in enumerate(raws):
        text = text.replace(f'"__raw_{i}__"', raw)
    return text.encode()


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out: list[tuple[str | int, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, sub in value.items():
            out += _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            out += _paths(sub, (*prefix, i))
    return out


def _set(body: Any, path: tuple[str | int, ...], value: Any) -> None:
    for step in path[:-1]:
        body = body[step]
    body[path[-1]] = value


def _drop(body: Any, path: tuple[str | int, ...]) -> None:
    for step in path[:-1]:
        body = body[step]
    if isinstance(body, dict):
        body.pop(path[-1], None)


class Fuzzer:
    """Seeded hostile frames for ``devices`` (registered) and a few unregistered ids."""

    def __init__(self, seed: int, devices: Sequence[str], *, valid_share: float = 1 / 6) -> None:
        self.rng = random.Random(seed)
        self.devices = list(devices)
        self.strangers = [f"zz{seed % 10_000:04d}{i:02d}" for i in range(3)]
        self.valid_share = valid_share
        self._n = 0

    def frames(self, n: int, now: datetime | None = None) -> list[Frame]:
        return [self.frame(now) for _ in range(n)]

    def frame(self, now: datetime | None = None) -> Frame:
        rng = self.rng
        now = now or datetime.now(UTC)
        self._n += 1
        kind = rng.choice(INBOUND)
        device = rng.choice(self.devices) if rng.random() < 0.9 else rng.choice(self.strangers)
        msg_id = f"fz-{self._n}-{uuid.UUID(int=rng.getrandbits(128)).hex[:8]}"
        body = valid_body(kind, device, msg_id, now)
        topic = topic_for(device, kind)
        if rng.random() < self.valid_share:
            return Frame(topic, encode_json(body), "valid")
        roll = rng.random()
        if roll < 0.08:
            return Frame(topic, rng.choice(JUNK_PAYLOADS) or self._random_bytes(), "junk payload")
        if roll < 0.12:
            bad = rng.choice(["x" * 65, "dév", "a b", "x" * 5000, "-"])
            return Frame(f"hyt/v1/d/{bad}/{kind.value}", encode_json(body), "bad device segment")
        if roll < 0.15:
            suffix = rng.choice(["evt/unknown", "tel/unknown"])
            return Frame(f"hyt/v1/d/{device}/{suffix}", encode_json(body), "unknown kind")
        if roll < 0.18:
            other = rng.choice(self.devices)
            body["device_id"] = other if other != device else other + "x"
            return Frame(topic, encode_json(body), "device mismatch")
        notes = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            paths = _paths(body)
            if not paths:
                break
            path = rng.choice(paths)
            if rng.random() < 0.15:
                _drop(body, path)
                notes.append(f"drop {'.'.join(map(str, path))}")
                continue
            value = copy.deepcopy(self._hostile_value(path))  # the pools are shared: never alias
            _set(body, path, value)
            notes.append(f"{'.'.join(map(str, path))}={_brief(value)}")
        return Frame(topic, encode_json(body), "; ".join(notes))

    def _hostile_value(self, path: tuple[str | int, ...]) -> Any:
        rng = self.rng
        leaf = path[-1]
        pools: list[tuple[Any, ...]] = [HOSTILE_STRINGS, HOSTILE_NUMBERS, HOSTILE_OTHERS]
        if leaf in ("ts", "fix_ts"):
            pools = [HOSTILE_TIMES, HOSTILE_TIMES, HOSTILE_STRINGS]
        elif leaf in ("msg_id", "trigger", "detail", "ack_of", "alarms") or isinstance(leaf, int):
            pools = [HOSTILE_STRINGS, HOSTILE_STRINGS, HOSTILE_NUMBERS, HOSTILE_OTHERS]
        if leaf == "alarms" and rng.random() < 0.5:
            return [rng.choice(HOSTILE_STRINGS) for _ in range(rng.randint(1, 40))]
        return rng.choice(rng.choice(pools))

    def _random_bytes(self) -> bytes:
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(1, 300)))


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def msg_key(frame: Frame) -> tuple[str, str] | None:
    """(device_id, msg_id) as the server would key the frame, when the frame has them."""
    parts = frame.topic.split("/")
    if len(parts) < 5:
        return None
    try:
        document = json.loads(frame.payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or not isinstance(document.get("msg_id"), str):
        return None
    return parts[3], document["msg_id"]


__all__ = [
    "EMERGENCY",
    "HOSTILE_NUMBERS",
    "HOSTILE_STRINGS",
    "HOSTILE_TIMES",
    "INBOUND",
    "Frame",
    "Fuzzer",
    "encode_json",
    "msg_key",
    "valid_body",
]
