"""Hostile device frames: every payload that once stopped the server, and their neighbours.

Shared data, no tests: ``test_hostile.py`` runs it through ``decode``, and the ingest tests may
import it to run the same frames through the store. ``HOSTILE_CORPUS`` is a list of
``(name, topic, payload bytes)`` covering every topic kind. Decoded with
``received_at=RECEIVED_AT``, each frame is refused with a ``ProtocolError``, except:

- the names in ``FLAGGED``: emergencies with a bad device clock, which decode with
  ``clock_rejected`` set and ``ts == RECEIVED_AT``;
- the names in ``ACCEPTED``: legal frames at the very edge of the limits (the longest alarm list,
  the largest ``seq``, an old retained status, ...), which decode unflagged and must be storable.

Payloads are built by hand (stdlib ``json`` with NaN allowed and surrogates passed through, or
literal bytes) because hostile frames are exactly the ones no well-behaved encoder produces.
When a fuzz run finds a new crash, its frame goes here, so it stays a regression test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from device_protocol import INBOUND_KINDS, Kind, topic_for

__all__ = ["ACCEPTED", "DEVICE", "FLAGGED", "HOSTILE_CORPUS", "RECEIVED_AT", "HostileFrame"]

DEVICE = "860000000000001"
TS = "2024-05-01T08:00:00+08:00"
RECEIVED_AT = datetime(2024, 5, 1, 0, 0, 30, tzinfo=UTC)
"""The server's receive time the corpus is meant for: 30 s after the frames' own ``ts``."""

HostileFrame = tuple[str, str, bytes]

FIX: dict[str, Any] = {"lat": 22.5431, "lon": 114.0579, "acc_m": 8.5, "fix": "gnss", "fix_ts": TS}
VALID: dict[Kind, dict[str, Any]] = {
    Kind.SOS: {"state": "raised", "trigger": "button", "location": FIX, "battery_pct": 64},
    Kind.FALL: {"state": "raised", "location": FIX, "confidence": 0.9},
    Kind.ALARM: {"alarms": ["low_battery"], "location": FIX},
    Kind.LOCATION: {"location": FIX},
    Kind.VITALS: {
        "heart_rate": {"bpm": 78, "status": "valid"},
        "blood_pressure": {"systolic": 120, "diastolic": 80, "status": "valid"},
        "spo2": {"pct": 97, "status": "valid"},
        "temperature": {"celsius": 36.6, "status": "valid"},
    },
    Kind.HEARTBEAT: {"battery_pct": 80, "charging": False, "signal_pct": 70, "interval_s": 300},
    Kind.STATUS: {"state": "online"},
    Kind.CMD_RES: {"ack_of": "srv-1", "ok": True, "detail": "done"},
}
EMERGENCIES = (Kind.SOS, Kind.FALL, Kind.ALARM)
TELEMETRY = tuple(kind for kind in VALID if kind not in EMERGENCIES)
_DROP = object()


class Raw(str):
    """A JSON literal written as it is (NaN, Infinity, a 5,000-digit number, ...)."""


def _body(kind: Kind, changes: dict[str, Any]) -> dict[str, Any]:
    """A valid message of ``kind`` with ``changes`` applied; keys may be dotted paths."""
    body: dict[str, Any] = json.loads(
        json.dumps({"v": 1, "msg_id": "m-1", "device_id": DEVICE, "ts": TS, **VALID[kind]})
    )
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        target = body
        for part in parents:
            target = target[part]
        if value is _DROP:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return body


def _dumps(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_dumps(k)}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dumps(item) for item in value) + "]"
    return json.dumps(value, allow_nan=True, ensure_ascii=False)


def _encode(body: dict[str, Any]) -> bytes:
    # surrogatepass: a lone surrogate becomes the (invalid UTF-8) bytes a broken encoder sends.
    return _dumps(body).encode("utf-8", "surrogatepass")


def hostile(kind: Kind, **changes: Any) -> tuple[str, bytes]:
    """A frame on ``kind``'s topic: a valid message of that kind with ``changes`` applied."""
    return topic_for(DEVICE, kind), _encode(_body(kind, changes))


def _raw(kind: Kind, payload: bytes) -> tuple[str, bytes]:
    return topic_for(DEVICE, kind), payload


def _valid_bytes(kind: Kind) -> bytes:
    return _encode(_body(kind, {}))


HOSTILE_CORPUS: list[HostileFrame] = []
FLAGGED: set[str] = set()
ACCEPTED: set[str] = set()


def _add(name: str, frame: tuple[str, bytes], into: set[str] | None = None) -> None:
    HOSTILE_CORPUS.append((name, *frame))
    if into is not None:
        into.add(name)


def _per_kind(
    kind: Kind, emergency: set[str] | None, telemetry: set[str] | None
) -> set[str] | None:
    return emergency if kind in EMERGENCIES else telemetry


# ---- the killers of issue 7, then their neighbours, on every inbound kind ------------------------

for _kind in VALID:
    _k = _kind.value
    _add(f"{_k}: NUL in msg_id", hostile(_kind, msg_id="m\x00-1"))
    _add(f"{_k}: NUL-only msg_id", hostile(_kind, msg_id="\x00"))
    _add(f"{_k}: newline in msg_id", hostile(_kind, msg_id="m-1\n"))
    _add(f"{_k}: DEL in msg_id", hostile(_kind, msg_id="m\x7f"))
    _add(f"{_k}: C1 control in msg_id", hostile(_kind, msg_id="m\x85"))
    _add(f"{_k}: lone surrogate in msg_id", hostile(_kind, msg_id="m\ud800"))
    _add(f"{_k}: escaped lone surrogate in msg_id", hostile(_kind, msg_id=Raw('"m\\udc00"')))
    _add(f"{_k}: 65-character msg_id", hostile(_kind, msg_id="m" * 65))
    _add(f"{_k}: NUL in device_id", hostile(_kind, device_id=DEVICE + "\x00"))
    _add(f"{_k}: seq 2**63", hostile(_kind, seq=2**63))
    _add(f"{_k}: seq of 5,000 digits", hostile(_kind, seq=Raw("9" * 5000)))
    _add(f"{_k}: seq 1e400", hostile(_kind, seq=Raw("1e400")))
    _add(f"{_k}: seq NaN", hostile(_kind, seq=Raw("NaN")))
    _add(f"{_k}: seq 2**63-1", hostile(_kind, seq=2**63 - 1), ACCEPTED)
    _add(
        f"{_k}: ts year 1 +23:59",
        hostile(_kind, ts="0001-01-01T00:00:00+23:59"),
        _per_kind(_kind, FLAGGED, None),
    )
    _add(
        f"{_k}: ts year 9999 -23:59",
        hostile(_kind, ts="9999-12-31T23:59:59-23:59"),
        _per_kind(_kind, FLAGGED, None),
    )
    _add(
        f"{_k}: ts in 2031",
        hostile(_kind, ts="2031-01-01T00:00:00Z"),
        _per_kind(_kind, FLAGGED, None),
    )
    _add(
        f"{_k}: ts reset to 1970",
        hostile(_kind, ts="1970-01-01T00:00:00Z"),
        # A retained status (and the MQTT Will) carries the connect time, however old.
        _per_kind(_kind, FLAGGED, ACCEPTED if _kind is Kind.STATUS else None),
    )
    _add(
        f"{_k}: ts without offset",
        hostile(_kind, ts="2024-05-01T08:00:00"),
        _per_kind(_kind, FLAGGED, None),
    )
    _add(f"{_k}: ts as a Unix time", hostile(_kind, ts=1714521600), _per_kind(_kind, FLAGGED, None))
    _add(f"{_k}: ts as an object", hostile(_kind, ts={"$date": 1}), _per_kind(_kind, FLAGGED, None))
    _add(f"{_k}: ts with NUL", hostile(_kind, ts=TS + "\x00"), _per_kind(_kind, FLAGGED, None))
    _add(f"{_k}: ts missing", hostile(_kind, ts=_DROP), _per_kind(_kind, FLAGGED, None))
    _add(f"{_k}: device_id of another device", hostile(_kind, device_id="860000000000002"))
    _add(f"{_k}: deep nesting in an unknown field", hostile(_kind, x=Raw("[" * 5000 + "]" * 5000)))
    _add(f"{_k}: 1 MiB unknown field", hostile(_kind, x="x" * 2**20))
    _add(f"{_k}: not UTF-8", _raw(_kind, _valid_bytes(_kind).replace(b'"m-1"', b'"m\xff"')))
    _add(
        f"{_k}: overlong UTF-8 NUL",
        _raw(_kind, _valid_bytes(_kind).replace(b'"m-1"', b'"m\xc0\x80"')),
    )
    _add(f"{_k}: truncated", _raw(_kind, _valid_bytes(_kind)[:-1]))
    _add(
        f"{_k}: duplicate msg_id, the last with NUL",
        _raw(
            _kind,
            _valid_bytes(_kind).replace(b'"msg_id":"m-1"', b'"msg_id":"m-1","msg_id":"\\u0000"'),
        ),
    )

# ---- envelope-free payloads -------------------------------------------------------------------

for _name, _payload in [
    ("empty payload", b""),
    ("whitespace only", b" \n\t" * 10),
    ("JSON null", b"null"),
    ("JSON array", b"[]"),
    ("JSON number", b"0"),
    ("JSON string", b'"SOS"'),
    ("JSON true", b"true"),
    ("NaN literal", b"NaN"),
    ("Infinity literal", b"-Infinity"),
    ("BOM before the object", b"\xef\xbb\xbf{}"),
    ("UTF-16", '{"v":1}'.encode("utf-16")),
    ("random bytes", bytes(range(256))),
    ("NUL bytes", b"\x00" * 64),
    ("nesting 100,000 deep", b"[" * 100_000 + b"]" * 100_000),
    ("objects nested 3,000 deep", b'{"a":' * 3000 + b"1" + b"}" * 3000),
    ("10 MB of spaces", b" " * 10_000_000),
    ("64 KiB + 1 of padding", b"{" + b" " * 65_535 + b"}"),
]:
    for _kind in (Kind.SOS, Kind.LOCATION):
        _add(f"{_kind.value}: {_name}", _raw(_kind, _payload))

# ---- field by field ---------------------------------------------------------------------------

_FIELDS: list[tuple[str, tuple[str, bytes], set[str] | None]] = [
    # Alarms: a capped list of capped, printable codes.
    ("17 alarm codes", hostile(Kind.ALARM, alarms=[f"vendor_{i}" for i in range(17)]), None),
    ("1,000 alarm codes", hostile(Kind.ALARM, alarms=["x"] * 1000), None),
    ("a 65-character alarm code", hostile(Kind.ALARM, alarms=["x" * 65]), None),
    ("NUL in an alarm code", hostile(Kind.ALARM, alarms=["low_battery", "a\x00b"]), None),
    ("tab in an alarm code", hostile(Kind.ALARM, alarms=["low\tbattery"]), None),
    ("an empty alarm code", hostile(Kind.ALARM, alarms=[""]), None),
    ("no alarm codes", hostile(Kind.ALARM, alarms=[]), None),
    ("alarm codes as an object", hostile(Kind.ALARM, alarms={"low_battery": True}), None),
    ("alarm code as a number", hostile(Kind.ALARM, alarms=[7]), None),
    (
        "16 alarm codes of 64 characters (1,039 joined)",
        hostile(Kind.ALARM, alarms=[f"{i:02d}" + "x" * 62 for i in range(16)]),
        ACCEPTED,
    ),
    ("5 alarm codes of 60 characters", hostile(Kind.ALARM, alarms=["x" * 60] * 5), ACCEPTED),
    ("unicode alarm code", hostile(Kind.ALARM, alarms=["低电量"]), ACCEPTED),
    # SOS trigger.
    ("NUL in trigger", hostile(Kind.SOS, trigger="button\x00"), None),
    ("a 65-character trigger", hostile(Kind.SOS, trigger="t" * 65), None),
    ("escape sequence in trigger", hostile(Kind.SOS, trigger="\x1b[31mred"), None),
    ("trigger as a list", hostile(Kind.SOS, trigger=["button"]), None),
    ("a 64-character trigger", hostile(Kind.SOS, trigger="t" * 64), ACCEPTED),
    ("SOS state NUL", hostile(Kind.SOS, state="raised\x00"), None),
    ("SOS battery 2**31", hostile(Kind.SOS, battery_pct=2**31), None),
    ("fall confidence NaN", hostile(Kind.FALL, confidence=Raw("NaN")), None),
    ("fall confidence Infinity", hostile(Kind.FALL, confidence=Raw("Infinity")), None),
    ("fall confidence 1e308", hostile(Kind.FALL, confidence=1e308), None),
    # Command results.
    ("NUL in detail", hostile(Kind.CMD_RES, detail="ok\x00"), None),
    ("newline in detail", hostile(Kind.CMD_RES, detail="line 1\nline 2"), None),
    ("a 501-character detail", hostile(Kind.CMD_RES, detail="d" * 501), None),
    ("a 10,000-character detail", hostile(Kind.CMD_RES, detail="d" * 10_000), None),
    ("a 500-character detail", hostile(Kind.CMD_RES, detail="详" * 500), ACCEPTED),
    ("NUL in ack_of", hostile(Kind.CMD_RES, ack_of="srv\x00"), None),
    ("a 65-character ack_of", hostile(Kind.CMD_RES, ack_of="a" * 65), None),
    ("ok as a string", hostile(Kind.CMD_RES, ok="perhaps"), None),
    # Heartbeats.
    ("heartbeat interval 2**31", hostile(Kind.HEARTBEAT, interval_s=2**31), None),
    ("heartbeat interval 10**12", hostile(Kind.HEARTBEAT, interval_s=10**12), None),
    ("heartbeat interval 7 days + 1 s", hostile(Kind.HEARTBEAT, interval_s=604_801), None),
    ("heartbeat interval 0", hostile(Kind.HEARTBEAT, interval_s=0), None),
    ("heartbeat interval -1", hostile(Kind.HEARTBEAT, interval_s=-1), None),
    ("heartbeat interval Infinity", hostile(Kind.HEARTBEAT, interval_s=Raw("Infinity")), None),
    ("heartbeat interval 1.5", hostile(Kind.HEARTBEAT, interval_s=1.5), None),
    ("heartbeat interval in a string", hostile(Kind.HEARTBEAT, interval_s="1e12"), None),
    ("heartbeat interval 7 days", hostile(Kind.HEARTBEAT, interval_s=604_800), ACCEPTED),
    ("heartbeat battery 2**31", hostile(Kind.HEARTBEAT, battery_pct=2**31), None),
    ("heartbeat battery NaN", hostile(Kind.HEARTBEAT, battery_pct=Raw("NaN")), None),
    ("heartbeat battery -1", hostile(Kind.HEARTBEAT, battery_pct=-1), None),
    ("heartbeat signal 101", hostile(Kind.HEARTBEAT, signal_pct=101), None),
    ("heartbeat battery as 20 digits", hostile(Kind.HEARTBEAT, battery_pct="9" * 20), None),
    ("heartbeat charging maybe", hostile(Kind.HEARTBEAT, charging="maybe"), None),
    # Vitals.
    ("heart rate 10**30", hostile(Kind.VITALS, **{"heart_rate.bpm": 10**30}), None),
    ("heart rate 301", hostile(Kind.VITALS, **{"heart_rate.bpm": 301}), None),
    ("heart rate -1", hostile(Kind.VITALS, **{"heart_rate.bpm": -1}), None),
    ("heart rate NaN", hostile(Kind.VITALS, **{"heart_rate.bpm": Raw("NaN")}), None),
    ("systolic 401", hostile(Kind.VITALS, **{"blood_pressure.systolic": 401}), None),
    ("diastolic 2**31", hostile(Kind.VITALS, **{"blood_pressure.diastolic": 2**31}), None),
    ("SpO2 101", hostile(Kind.VITALS, **{"spo2.pct": 101}), None),
    ("SpO2 255", hostile(Kind.VITALS, **{"spo2.pct": 255}), None),
    ("temperature 50.1", hostile(Kind.VITALS, **{"temperature.celsius": 50.1}), None),
    ("temperature -1", hostile(Kind.VITALS, **{"temperature.celsius": -1}), None),
    ("temperature NaN", hostile(Kind.VITALS, **{"temperature.celsius": Raw("NaN")}), None),
    ("temperature 1e400", hostile(Kind.VITALS, **{"temperature.celsius": Raw("1e400")}), None),
    ("reading status NUL", hostile(Kind.VITALS, **{"spo2.status": "valid\x00"}), None),
    ("reading as a list", hostile(Kind.VITALS, heart_rate=[78, "valid"]), None),
    (
        "every reading failed, as zeros",
        hostile(
            Kind.VITALS,
            heart_rate={"bpm": 0, "status": "failed"},
            blood_pressure={"systolic": 0, "diastolic": 0, "status": "failed"},
            spo2={"pct": 0, "status": "invalid"},
            temperature={"celsius": 0, "status": "failed"},
        ),
        ACCEPTED,
    ),
    (
        "every reading at its maximum",
        hostile(
            Kind.VITALS,
            heart_rate={"bpm": 300, "status": "valid"},
            blood_pressure={"systolic": 400, "diastolic": 400, "status": "valid"},
            spo2={"pct": 100, "status": "valid"},
            temperature={"celsius": 50, "status": "valid"},
        ),
        ACCEPTED,
    ),
    # Locations, on telemetry and inside emergencies.
    ("latitude NaN", hostile(Kind.LOCATION, **{"location.lat": Raw("NaN")}), None),
    ("longitude -Infinity", hostile(Kind.LOCATION, **{"location.lon": Raw("-Infinity")}), None),
    ("latitude 1e400", hostile(Kind.LOCATION, **{"location.lat": Raw("1e400")}), None),
    ("accuracy 1e308", hostile(Kind.LOCATION, **{"location.acc_m": 1e308}), None),
    ("accuracy Infinity", hostile(Kind.LOCATION, **{"location.acc_m": Raw("Infinity")}), None),
    ("accuracy 100 km + 1 m", hostile(Kind.LOCATION, **{"location.acc_m": 100_001}), None),
    ("accuracy 100 km", hostile(Kind.LOCATION, **{"location.acc_m": 100_000}), ACCEPTED),
    ("fix NUL", hostile(Kind.LOCATION, **{"location.fix": "gnss\x00"}), None),
    (
        "location fix_ts year 9999 -23:59",
        hostile(Kind.LOCATION, **{"location.fix_ts": "9999-12-31T23:59:59-23:59"}),
        None,
    ),
    (
        "location fix_ts year 1 +23:59",
        hostile(Kind.LOCATION, **{"location.fix_ts": "0001-01-01T00:00:00+23:59"}),
        None,
    ),
    (
        "location deep inside location",
        hostile(Kind.LOCATION, location={"location": {"location": {}}}),
        None,
    ),
    ("SOS latitude NaN", hostile(Kind.SOS, **{"location.lat": Raw("NaN")}), None),
    (
        "SOS fix_ts year 9999 -23:59",
        hostile(Kind.SOS, **{"location.fix_ts": "9999-12-31T23:59:59-23:59"}),
        FLAGGED,
    ),
    (
        "fall fix_ts year 1 +23:59",
        hostile(Kind.FALL, **{"location.fix_ts": "0001-01-01T00:00+23:59"}),
        FLAGGED,
    ),
    (
        "alarm fix_ts as a Unix time",
        hostile(Kind.ALARM, **{"location.fix_ts": 1714521600}),
        FLAGGED,
    ),
    (
        "SOS with a bad ts and a bad battery",  # the clock is forgiven, nothing else is
        hostile(Kind.SOS, ts="0001-01-01T00:00:00+23:59", battery_pct=2**31),
        None,
    ),
    ("SOS ts 11 minutes ahead", hostile(Kind.SOS, ts="2024-05-01T08:11:31+08:00"), FLAGGED),
    ("SOS ts 6 days behind", hostile(Kind.SOS, ts="2024-04-25T08:00:00+08:00"), ACCEPTED),
    ("status ts in 2031", hostile(Kind.STATUS, ts="2031-01-01T00:00:00+08:00"), None),
    ("status state NUL", hostile(Kind.STATUS, state="\x00"), None),
    ("version 2", hostile(Kind.STATUS, v=2), None),
    ("version 2**64", hostile(Kind.STATUS, v=2**64), None),
    (
        "clock_rejected sent by the device",
        hostile(Kind.SOS, clock_rejected="x", _clock_rejected="y"),
        ACCEPTED,
    ),
]
for _name, _frame, _into in _FIELDS:
    _add(_name, _frame, _into)

# ---- topics -----------------------------------------------------------------------------------

_SOS = _valid_bytes(Kind.SOS)
for _name, _topic in [
    ("empty topic", ""),
    ("topic root only", "hyt/v1/d/"),
    ("wildcard topic", "hyt/v1/d/#"),
    ("NUL in the topic's device id", f"hyt/v1/d/{DEVICE}\x00/evt/sos"),
    ("NUL after the topic's kind", f"hyt/v1/d/{DEVICE}/evt/sos\x00"),
    ("a 1 MB topic", f"hyt/v1/d/{DEVICE}/evt/sos/" + "x" * 1_000_000),
    ("a 1 MB device id", "hyt/v1/d/" + "9" * 1_000_000 + "/evt/sos"),
    ("a Chinese device id", "hyt/v1/d/设备/evt/sos"),
    ("a lone surrogate in the topic", "hyt/v1/d/\ud800/evt/sos"),
    ("the server's ack topic", topic_for(DEVICE, Kind.ACK)),
    ("the server's cmd/req topic", topic_for(DEVICE, Kind.CMD_REQ)),
    ("an unknown kind", f"hyt/v1/d/{DEVICE}/evt/fire"),
    ("another protocol version", f"hyt/v2/d/{DEVICE}/evt/sos"),
]:
    HOSTILE_CORPUS.append((_name, _topic, _SOS))

assert {topic for _, topic, _ in HOSTILE_CORPUS} >= {topic_for(DEVICE, k) for k in INBOUND_KINDS}
assert len({name for name, _, _ in HOSTILE_CORPUS}) == len(HOSTILE_CORPUS), "names are unique"
