"""The contract's limits: every bound a v1 message must respect to be read at all.

A device message ends up in database columns, log lines and SMS texts, so ``decode`` refuses
anything that could not go there safely: text with control characters (PostgreSQL refuses NUL in
text; the others corrupt logs and texts), strings and lists longer than their columns, integers
outside 32-bit columns or outside what a body can measure, non-finite numbers, and timestamps that
cannot be placed on the server's clock. The numbers live here, in one place, so the models, the
published JSON Schema, the written spec and the server's column sizes all read the same values.
"""

from __future__ import annotations

from datetime import timedelta

__all__ = [
    "CLOCK_MAX_AHEAD",
    "CLOCK_MAX_BEHIND",
    "INT32_MAX",
    "INT64_MAX",
    "MAX_ACCURACY_M",
    "MAX_ALARMS",
    "MAX_ALARM_CODE_LENGTH",
    "MAX_BLOOD_PRESSURE_MMHG",
    "MAX_CELSIUS",
    "MAX_DETAIL_LENGTH",
    "MAX_HEART_RATE_BPM",
    "MAX_ID_LENGTH",
    "MAX_INTERVAL_S",
    "MAX_PAYLOAD_BYTES",
    "MAX_REASON_LENGTH",
    "MAX_TRIGGER_LENGTH",
    "PRINTABLE_PATTERN",
]

INT32_MAX = 2**31 - 1
"""The largest value of a 32-bit signed column (``INTEGER`` in PostgreSQL)."""

INT64_MAX = 2**63 - 1
"""The largest value of a 64-bit signed column (``BIGINT``); the bound of ``seq``."""

MAX_PAYLOAD_BYTES = 64 * 1024
"""Payloads over this many bytes are refused before parsing.

A real v1 message is under 1 KiB; 64 KiB leaves room for vendors' own fields while bounding the
CPU and memory one frame can cost the ingest lane.
"""

MAX_REASON_LENGTH = 300
"""A ``ProtocolError.reason`` is one printable line of at most this many characters.

Reasons quote the rejected input (shortened), and end up in dead letters, logs and ``ack``s.
"""

PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
"""Text fields may hold no control character: C0 (NUL, newline, ...), DEL, or C1.

NUL is refused by PostgreSQL in text columns (one such ``msg_id`` stopped ingest for good); the
others break log lines, CSV exports and SMS texts. Checked by pydantic's Rust regex engine.
"""

MAX_ID_LENGTH = 64
"""``msg_id`` and ``ack_of``: 1..64 characters (the dedupe key's column is VARCHAR(64))."""

MAX_TRIGGER_LENGTH = 64
"""An SOS ``trigger``: 1..64 characters."""

MAX_ALARMS = 16
"""At most this many codes in one ``evt/alarm`` (the six known ones, plus vendors' own)."""

MAX_ALARM_CODE_LENGTH = 64
"""Each alarm code: 1..64 characters."""

MAX_DETAIL_LENGTH = 500
"""A command result's ``detail``: at most 500 characters."""

MAX_INTERVAL_S = 7 * 24 * 3600
"""A heartbeat's ``interval_s``: 1 second to 7 days.

The server multiplies it to find when silence means offline; 2**31 or 10**12 overflowed both the
INTEGER column and the date arithmetic.
"""

MAX_HEART_RATE_BPM = 300
"""Heart rate 0..300 bpm: no human heart beats faster; 0 is a failed measurement."""

MAX_BLOOD_PRESSURE_MMHG = 400
"""Systolic and diastolic 0..400 mmHg; 0 is a failed measurement."""

MAX_CELSIUS = 50.0
"""Body temperature 0..50 °C, finite; 0 is a failed measurement."""

MAX_ACCURACY_M = 100_000.0
"""A fix's ``acc_m``: 0..100 km, finite (a cell fix in the countryside can be several km)."""

CLOCK_MAX_AHEAD = timedelta(minutes=10)
"""A device ``ts`` more than this ahead of the server's receive time is a wrong clock.

Ten minutes absorbs ordinary drift of a device that has not synced for days, and no device can
legitimately stamp a message it has not yet sent.
"""

CLOCK_MAX_BEHIND = timedelta(days=7)
"""A device ``ts`` more than this behind the server's receive time is a wrong clock.

Devices buffer messages while out of coverage and send them late, so hours or days are normal;
a week is past any plausible buffering and catches the usual failure, a clock reset to 1970 or
to the firmware's build date. (Retained ``status`` messages are exempt: see ``decode``.)
"""
