"""Valid frames: a table of real-world variations, each decoded and checked for the invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from device_protocol import (
    Ack,
    AlarmEvent,
    CommandRequest,
    Heartbeat,
    Kind,
    LocationReport,
    SosEvent,
    StatusReport,
    VitalsReport,
    decode,
    decode_outbound,
    encode,
    topic_of,
)

from .frames import DEVICE, FIX, MINIMAL, TS, Frame, check_invariants, frame, raw, read

VALID_FRAMES: list[Frame] = [
    *(frame(kind, **body) for kind, body in MINIMAL.items()),
    frame(
        Kind.SOS,
        state="raised",
        trigger="long_press",
        location=FIX,
        battery_pct=64,
        seq=412,
    ),
    frame(Kind.SOS, state="cancelled", trigger="charger_removed"),
    frame(Kind.SOS, state="raised", trigger="voice_command", location=None, battery_pct=None),
    frame(Kind.FALL, state="raised", location=FIX, battery_pct=0, confidence=0.87),
    frame(Kind.FALL, state="cancelled", confidence=1),
    frame(Kind.ALARM, alarms=["low_battery", "geofence_exit"], battery_pct=9),
    frame(Kind.ALARM, alarms=["vendor_specific_thing"], location={**FIX, "fix": "cell"}),
    frame(Kind.LOCATION, location={"lat": 90, "lon": -180, "fix": "wifi"}),
    frame(Kind.LOCATION, location={"lat": -90.0, "lon": 180.0, "acc_m": 0, "fix": "cell"}),
    frame(Kind.LOCATION, location={**FIX, "lat": "22.5", "lon": "114.1"}),
    frame(Kind.LOCATION, location=FIX, ts="2024-05-01T00:00:00Z"),
    frame(Kind.LOCATION, location=FIX, ts="2024-05-01T00:00:00.123456-05:30"),
    frame(Kind.LOCATION, location=FIX, x_vendor={"steps": 4211}, imei="ignored"),
    frame(
        Kind.VITALS,
        heart_rate={"bpm": 78, "status": "valid"},
        blood_pressure={"systolic": 0, "diastolic": 0, "status": "failed"},
        spo2={"pct": 97, "status": "valid"},
        temperature={"celsius": 36.6, "status": "invalid"},
    ),
    frame(Kind.VITALS, heart_rate={"bpm": 0, "status": "valid"}),
    frame(Kind.HEARTBEAT, battery_pct=100, charging=True, signal_pct=0, worn=None, interval_s=1),
    frame(Kind.HEARTBEAT, battery_pct="55", charging=1, worn=False, interval_s=60),
    frame(Kind.STATUS, state="offline", msg_id="will-20240501T0700"),
    frame(Kind.CMD_RES, ack_of="srv-1", ok=False, detail="no GNSS fix indoors"),
    frame(Kind.ACK, ack_of="m-1", result="duplicate", incident_id=1042, prompt="Help is coming"),
    frame(Kind.ACK, ack_of="m-1", result="rejected", reason="missing field 'state'"),
    frame(Kind.CMD_REQ, cmd="set_sos_numbers", args={"numbers": ["+8613800000000"]}),
    frame(Kind.CMD_REQ, cmd="set_report_interval", args={"seconds": 60, "extra": None}),
    frame(Kind.LOCATION, device="abc_DEF-123", location=FIX),
    frame(Kind.LOCATION, device="x" * 64, location=FIX, msg_id="y" * 64),
    raw(
        Kind.STATUS,
        b' \n{"v":1,"msg_id":"m","device_id":"860000000000001",'
        b'"ts":"2024-05-01T08:00:00+08:00","state":"online"}\n',
    ),
]


@pytest.mark.parametrize(("topic", "payload"), VALID_FRAMES)
def test_valid_frames_decode_and_keep_the_invariants(topic: str, payload: bytes) -> None:
    """Every valid frame decodes to a model that satisfies the shared invariants."""
    check_invariants(topic, payload, read(topic, payload))


def test_sos_fields_are_read_as_sent() -> None:
    """An SOS keeps its state, trigger, location, battery and sequence number."""
    topic, payload = frame(Kind.SOS, state="raised", location=FIX, battery_pct=64, seq=7)
    message = decode(topic, payload)
    assert isinstance(message, SosEvent)
    assert (message.state, message.trigger, message.battery_pct, message.seq) == (
        "raised",
        "button",
        64,
        7,
    )
    assert message.location is not None
    assert (message.location.lat, message.location.lon, message.location.fix) == (
        22.5431,
        114.0579,
        "gnss",
    )


def test_timestamps_keep_their_offset() -> None:
    """A device's +08:00 timestamp is read as the same instant with its offset kept."""
    message = decode(*frame(Kind.STATUS, state="online"))
    assert message.ts == datetime(2024, 5, 1, 0, 0, tzinfo=UTC)
    assert message.ts.utcoffset() == timedelta(hours=8)


def test_unknown_fields_are_ignored() -> None:
    """Vendor fields neither fail the decode nor show up on the model."""
    message = decode(*frame(Kind.STATUS, state="online", x_acme_rssi=-71))
    assert "x_acme_rssi" not in message.model_dump()


def test_unknown_alarm_codes_are_kept_and_known_ones_recognised() -> None:
    """An alarm list keeps codes the server does not know, in order, next to known ones."""
    message = decode(*frame(Kind.ALARM, alarms=["tamper", "vendor_x", "power_cut"]))
    assert isinstance(message, AlarmEvent)
    assert message.alarms == ["tamper", "vendor_x", "power_cut"]
    assert [code.value for code in message.known_alarms] == ["tamper", "power_cut"]


def test_numbers_in_strings_are_accepted() -> None:
    """Vendors that quote numbers still get through, with the numbers typed."""
    message = decode(*frame(Kind.HEARTBEAT, battery_pct="55", charging="true", interval_s="60"))
    assert isinstance(message, Heartbeat)
    assert (message.battery_pct, message.charging, message.interval_s) == (55, True, 60)


def test_bytearray_payloads_are_accepted() -> None:
    """A bytearray payload (as some MQTT clients hand over) decodes like bytes."""
    topic, payload = frame(Kind.LOCATION, location=FIX)
    assert decode(topic, bytearray(payload)) == decode(topic, payload)


def test_encode_is_compact_and_omits_absent_values() -> None:
    """Encoding writes compact JSON, RFC 3339 times with offset, and no nulls."""
    ack = Ack(
        v=1,
        msg_id="srv-1",
        device_id=DEVICE,
        ts=datetime(2024, 5, 1, 8, 0, 1, tzinfo=timezone(timedelta(hours=8))),
        ack_of="m-1",
        result="accepted",
        incident_id=1042,
    )
    assert encode(ack) == (
        b'{"v":1,"msg_id":"srv-1","device_id":"860000000000001",'
        b'"ts":"2024-05-01T08:00:01+08:00","ack_of":"m-1","result":"accepted","incident_id":1042}'
    )


def test_encode_keeps_nulls_inside_command_args() -> None:
    """Command arguments are sent verbatim, nulls included, since their meaning is the device's."""
    request = CommandRequest(
        v=1,
        msg_id="srv-2",
        device_id=DEVICE,
        ts=datetime(2024, 5, 1, tzinfo=UTC),
        cmd="set_sos_numbers",
        args={"numbers": None},
    )
    assert orjson.loads(encode(request))["args"] == {"numbers": None}
    assert decode_outbound(topic_of(request), encode(request)) == request


def test_messages_built_in_code_round_trip_through_the_wire() -> None:
    """A model built by the simulator encodes to bytes the server decodes to an equal model."""
    report = LocationReport.model_validate(
        {"v": 1, "msg_id": "m-9", "device_id": DEVICE, "ts": TS, "location": FIX}
    )
    assert decode(topic_of(report), encode(report)) == report


def test_failed_vitals_decode_but_are_not_valid() -> None:
    """A zeroed or failed measurement is accepted on the wire and marked not valid."""
    message = decode(
        *frame(
            Kind.VITALS,
            heart_rate={"bpm": 0, "status": "valid"},
            spo2={"pct": 97, "status": "failed"},
        )
    )
    assert isinstance(message, VitalsReport)
    assert message.heart_rate is not None
    assert message.spo2 is not None
    assert not message.heart_rate.is_valid
    assert not message.spo2.is_valid


def test_status_will_is_a_status_report() -> None:
    """The retained MQTT Will decodes as an offline status report."""
    message = decode(*frame(Kind.STATUS, state="offline"))
    assert isinstance(message, StatusReport)
    assert message.state == "offline"
