"""The device clock against the server's: the window, flagged emergencies, refused telemetry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from device_protocol import (
    CLOCK_MAX_AHEAD,
    CLOCK_MAX_BEHIND,
    EmergencyEvent,
    Kind,
    PayloadError,
    SosEvent,
    decode,
    encode,
    json_schemas,
)

from .frames import DEVICE, FIX, MINIMAL, check_bounded, frame

SERVER = datetime(2024, 5, 1, 0, 0, 0, tzinfo=UTC)
EMERGENCIES = [Kind.SOS, Kind.FALL, Kind.ALARM]
TELEMETRY = [Kind.LOCATION, Kind.VITALS, Kind.HEARTBEAT, Kind.CMD_RES]
TINY = timedelta(microseconds=1)


def _at(offset: timedelta) -> str:
    """Server time plus ``offset``, written as a +08:00 device would."""
    return (SERVER + offset).astimezone(timezone(timedelta(hours=8))).isoformat()


EDGES_INSIDE = [CLOCK_MAX_AHEAD, -CLOCK_MAX_BEHIND, timedelta(0), timedelta(hours=-30)]
EDGES_OUTSIDE = [CLOCK_MAX_AHEAD + TINY, -CLOCK_MAX_BEHIND - TINY, timedelta(days=-20000)]


@pytest.mark.parametrize("kind", [*EMERGENCIES, *TELEMETRY, Kind.STATUS])
@pytest.mark.parametrize("offset", EDGES_INSIDE)
def test_a_timestamp_inside_the_window_is_kept(kind: Kind, offset: timedelta) -> None:
    """A device ts up to 10 minutes ahead or 7 days behind the server decodes as sent."""
    message = decode(*frame(kind, ts=_at(offset), **MINIMAL[kind]), received_at=SERVER)
    assert message.ts == SERVER + offset
    if isinstance(message, EmergencyEvent):
        assert message.clock_rejected is None


@pytest.mark.parametrize("kind", EMERGENCIES)
@pytest.mark.parametrize("offset", EDGES_OUTSIDE)
def test_an_emergency_outside_the_window_runs_on_server_time(kind: Kind, offset: timedelta) -> None:
    """An SOS, fall or alarm with a ts outside the window decodes with server time, flagged."""
    message = decode(*frame(kind, ts=_at(offset), **MINIMAL[kind]), received_at=SERVER)
    assert isinstance(message, EmergencyEvent)
    assert message.ts == SERVER
    assert message.clock_rejected is not None
    assert "outside the accepted window" in message.clock_rejected
    assert ("ahead of" if offset > timedelta(0) else "behind") in message.clock_rejected


@pytest.mark.parametrize("kind", TELEMETRY)
@pytest.mark.parametrize("offset", EDGES_OUTSIDE)
def test_telemetry_outside_the_window_is_refused(kind: Kind, offset: timedelta) -> None:
    """Telemetry with a ts outside the window is a PayloadError that still names the message."""
    with pytest.raises(PayloadError, match="outside the accepted window") as caught:
        decode(*frame(kind, ts=_at(offset), msg_id="t-9", **MINIMAL[kind]), received_at=SERVER)
    assert (caught.value.device_id, caught.value.msg_id, caught.value.kind) == (DEVICE, "t-9", kind)


def test_an_old_status_is_kept_but_a_future_one_is_refused() -> None:
    """A retained status or Will may carry a weeks-old connect time; a future one is a bad clock."""
    old = decode(
        *frame(Kind.STATUS, state="offline", ts=_at(-timedelta(days=40))), received_at=SERVER
    )
    assert old.ts == SERVER - timedelta(days=40)
    with pytest.raises(PayloadError, match="ahead of the server's clock"):
        decode(*frame(Kind.STATUS, state="online", ts=_at(timedelta(hours=3))), received_at=SERVER)


@pytest.mark.parametrize(
    ("ts", "reason"),
    [
        ("2024-05-01T08:00:00", "timestamp without offset in 'ts'"),
        (1714521600, "bad timestamp in 'ts'"),
        ("0001-01-01T00:00:00+23:59", "timestamp out of range in 'ts'"),
        ("9999-12-31T23:59:59-23:59", "timestamp out of range in 'ts'"),
        ("yesterday", "bad timestamp in 'ts'"),
        (None, "bad timestamp in 'ts'"),
    ],
)
def test_an_unusable_emergency_timestamp_is_replaced_and_said(ts: object, reason: str) -> None:
    """An SOS whose ts cannot be read at all still decodes on server time, with the reason."""
    message = decode(*frame(Kind.SOS, ts=ts, location=FIX, **MINIMAL[Kind.SOS]), received_at=SERVER)
    assert isinstance(message, SosEvent)
    assert message.ts == SERVER
    assert message.clock_rejected is not None and reason in message.clock_rejected
    assert message.location is not None and message.location.lat == FIX["lat"]


def test_an_emergency_without_a_timestamp_runs_on_server_time() -> None:
    """An SOS that omits ts is still read, on server time (the SLA never used the device's)."""
    message = decode(*frame(Kind.SOS, drop=("ts",), **MINIMAL[Kind.SOS]), received_at=SERVER)
    assert isinstance(message, SosEvent)
    assert (message.ts, message.clock_rejected) == (SERVER, "missing field 'ts'")


def test_an_unusable_fix_time_in_an_emergency_is_dropped() -> None:
    """A fall whose fix_ts overflows keeps its position and its ts, loses only the fix time."""
    location = {**FIX, "fix_ts": "9999-12-31T23:59:59-23:59"}
    message = decode(
        *frame(Kind.FALL, ts=_at(timedelta(0)), location=location, **MINIMAL[Kind.FALL]),
        received_at=SERVER,
    )
    assert isinstance(message, EmergencyEvent)
    assert message.location is not None
    assert (message.location.lat, message.location.fix_ts) == (FIX["lat"], None)
    assert message.ts == SERVER
    assert message.clock_rejected is not None and "location.fix_ts" in message.clock_rejected


def test_only_the_clock_is_forgiven() -> None:
    """An SOS with a bad ts and another fault is refused, with both counted in the reason."""
    with pytest.raises(PayloadError, match=r"in 'ts'.*\(and 1 more problem\)"):
        decode(
            *frame(Kind.SOS, ts="yesterday", battery_pct=900, state="raised"), received_at=SERVER
        )


def test_telemetry_with_an_unusable_timestamp_is_refused_on_server_time_too() -> None:
    """Server time forgives no telemetry: a location without offset is still a PayloadError."""
    with pytest.raises(PayloadError, match="timestamp without offset"):
        decode(*frame(Kind.LOCATION, ts="2024-05-01T08:00:00", location=FIX), received_at=SERVER)


def test_without_server_time_no_window_applies() -> None:
    """decode(topic, payload) keeps its old behaviour: a 1970 clock decodes as sent."""
    message = decode(*frame(Kind.SOS, ts="1970-01-01T00:00:00Z", state="raised"))
    assert isinstance(message, SosEvent)
    assert message.ts == datetime(1970, 1, 1, tzinfo=UTC)
    assert message.clock_rejected is None


def test_a_naive_server_time_is_a_programming_error() -> None:
    """received_at must be aware: a naive one raises ValueError before anything is read."""
    with pytest.raises(ValueError, match="timezone-aware"):
        decode(*frame(Kind.SOS, state="raised"), received_at=datetime(2024, 5, 1))  # noqa: DTZ001


def test_the_flag_is_not_on_the_wire() -> None:
    """A flagged SOS encodes with the server's ts and no flag; the schema has no such field."""
    message = decode(
        *frame(Kind.SOS, ts="1970-01-01T00:00:00Z", state="raised"), received_at=SERVER
    )
    body = orjson.loads(encode(message))
    assert "clock_rejected" not in body
    assert datetime.fromisoformat(body["ts"]) == SERVER
    assert "clock_rejected" not in json_schemas()["evt/sos"]["properties"]
    check_bounded(message)


def test_flagging_leaves_the_decoded_original_alone() -> None:
    """Flagging works on a copy: the same frame decoded without server time is unflagged."""
    topic, payload = frame(Kind.SOS, ts="1970-01-01T00:00:00Z", state="raised")
    flagged = decode(topic, payload, received_at=SERVER)
    plain = decode(topic, payload)
    assert isinstance(flagged, SosEvent) and isinstance(plain, SosEvent)
    assert flagged.clock_rejected is not None
    assert plain.clock_rejected is None
    assert plain.ts.year == 1970
