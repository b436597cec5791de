"""Timestamps: the few rules every instant in `sla` obeys.

Every datetime that enters the package must carry a UTC offset; a naive one raises
`NaiveDatetimeError` at once instead of being compared with an aware one later (which Python
refuses anyway, but far from the caller's mistake).

Arithmetic and comparisons go through UTC. Python adds and compares two datetimes that share a
`tzinfo` by their wall-clock reading, so `08:00 + 15 min` in a zone with daylight saving time is
not always 15 elapsed minutes. An SLA deadline is elapsed time, so `add_elapsed` works in UTC and
hands the result back in the input's own zone: the console shows it in the offset it came in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sla.errors import NaiveDatetimeError

__all__ = ["add_elapsed", "clock_time", "elapsed", "require_aware", "to_utc"]


def require_aware(name: str, value: datetime) -> datetime:
    """Return `value` unchanged, or raise `NaiveDatetimeError` naming the argument."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(name, value)
    return value


def to_utc(name: str, value: datetime) -> datetime:
    """Check `value` is aware and return the same instant in UTC, ready to compare."""
    return require_aware(name, value).astimezone(UTC)


def add_elapsed(name: str, start: datetime, duration: timedelta) -> datetime:
    """The instant `duration` of real time after `start`, expressed in `start`'s own zone."""
    tz = require_aware(name, start).tzinfo
    return (start.astimezone(UTC) + duration).astimezone(tz)


def elapsed(start: datetime, end: datetime) -> timedelta:
    """Real time from `start` to `end` (both aware; negative when `end` comes first)."""
    return end.astimezone(UTC) - start.astimezone(UTC)


def clock_time(value: datetime, *, like: datetime | None = None) -> str:
    """`HH:MM` of `value` on the wall clock of `like`'s zone (or its own), for reason texts."""
    shown = value.astimezone(like.tzinfo) if like is not None else value
    return shown.strftime("%H:%M")
