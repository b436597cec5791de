"""Invalid frames: a table of what real devices get wrong, each with its error class and reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from device_protocol import (
    MAX_REASON_LENGTH,
    DeviceMismatchError,
    Kind,
    PayloadError,
    ProtocolError,
    TopicError,
    decode,
    decode_outbound,
)

from .frames import DEVICE, FIX, MINIMAL, TS, frame, raw

SOS = MINIMAL[Kind.SOS]
LOC = MINIMAL[Kind.LOCATION]
VALID_SOS = frame(Kind.SOS, **SOS)[1]

INVALID_FRAMES: list[tuple[str, bytes, type[ProtocolError], str]] = [
    # Topics.
    ("hyt/v2/d/860000000000001/evt/sos", VALID_SOS, TopicError, "is not under hyt/v1/d/"),
    ("HYT/v1/d/860000000000001/evt/sos", VALID_SOS, TopicError, "is not under hyt/v1/d/"),
    ("hyt/v1/d/860000000000001/evt/fire", VALID_SOS, TopicError, "unknown message kind 'evt/fire'"),
    ("hyt/v1/d/860000000000001/evt/SOS", VALID_SOS, TopicError, "unknown message kind"),
    ("hyt/v1/d/860000000000001/evt/sos/", VALID_SOS, TopicError, "unknown message kind"),
    ("hyt/v1/d/860000000000001", VALID_SOS, TopicError, "unknown message kind ''"),
    ("hyt/v1/d//evt/sos", VALID_SOS, TopicError, "bad device id ''"),
    ("hyt/v1/d/+/evt/sos", VALID_SOS, TopicError, "bad device id '+'"),
    ("hyt/v1/d/8600 01/evt/sos", VALID_SOS, TopicError, "bad device id"),
    (f"hyt/v1/d/{'9' * 65}/evt/sos", VALID_SOS, TopicError, "bad device id"),
    (*frame(Kind.ACK, **MINIMAL[Kind.ACK]), TopicError, "'ack' is a server-to-device topic"),
    (*frame(Kind.CMD_REQ, cmd="locate_now"), TopicError, "'cmd/req' is a server-to-device topic"),
    # Not a JSON object.
    (*raw(Kind.SOS, b""), PayloadError, "empty payload"),
    (*raw(Kind.SOS, b"SOS!"), PayloadError, "payload is not valid JSON"),
    (*raw(Kind.SOS, b'{"v":1,'), PayloadError, "payload is not valid JSON"),
    (*raw(Kind.SOS, b"\xff\xfe{}"), PayloadError, "payload is not valid JSON"),
    (*raw(Kind.SOS, b'[{"v":1}]'), PayloadError, "payload is not a JSON object"),
    (*raw(Kind.SOS, b'"raised"'), PayloadError, "payload is not a JSON object"),
    # Envelope.
    (*frame(Kind.SOS, v=2, **SOS), PayloadError, "unsupported protocol version 2"),
    (*frame(Kind.SOS, v="1.0", **SOS), PayloadError, "unsupported protocol version"),
    (*frame(Kind.SOS, drop=("v",), **SOS), PayloadError, "missing field 'v'"),
    (*frame(Kind.SOS, drop=("msg_id",), **SOS), PayloadError, "missing field 'msg_id'"),
    (*frame(Kind.SOS, msg_id="", **SOS), PayloadError, "in 'msg_id'"),
    (*frame(Kind.SOS, msg_id="m" * 65, **SOS), PayloadError, "in 'msg_id'"),
    (*frame(Kind.SOS, msg_id=412, **SOS), PayloadError, "in 'msg_id'"),
    (*frame(Kind.SOS, drop=("device_id",), **SOS), PayloadError, "missing field 'device_id'"),
    (*frame(Kind.SOS, device_id="86 00", **SOS), PayloadError, "in 'device_id'"),
    (*frame(Kind.SOS, drop=("ts",), **SOS), PayloadError, "missing field 'ts'"),
    (*frame(Kind.SOS, ts="2024-05-01T08:00:00", **SOS), PayloadError, "timestamp without offset"),
    (*frame(Kind.SOS, ts="2024-05-01", **SOS), PayloadError, "timestamp without offset in 'ts'"),
    (*frame(Kind.SOS, ts=1714521600, **SOS), PayloadError, "bad timestamp in 'ts'"),
    (*frame(Kind.SOS, ts=1714521600.5, **SOS), PayloadError, "bad timestamp in 'ts'"),
    (*frame(Kind.SOS, ts="1714521600", **SOS), PayloadError, "bad timestamp in 'ts'"),
    (*frame(Kind.SOS, ts=True, **SOS), PayloadError, "bad timestamp in 'ts'"),
    (*frame(Kind.SOS, ts="", **SOS), PayloadError, "bad timestamp in 'ts'"),
    (*frame(Kind.SOS, ts=None, **SOS), PayloadError, "bad timestamp in 'ts'"),
    (*frame(Kind.SOS, ts="2024-05-01T08:00:00+08", **SOS), PayloadError, "bad timestamp"),
    (*frame(Kind.SOS, ts="yesterday", **SOS), PayloadError, "bad timestamp in 'ts'"),
    (*frame(Kind.SOS, seq=-1, **SOS), PayloadError, "in 'seq'"),
    (*frame(Kind.SOS, device_id="860000000000002", **SOS), DeviceMismatchError, "does not match"),
    # Locations.
    (*frame(Kind.LOCATION), PayloadError, "missing field 'location'"),
    (
        *frame(Kind.LOCATION, location={"lon": 114.0, "fix": "gnss"}),
        PayloadError,
        "missing field 'location.lat'",
    ),
    (
        *frame(Kind.LOCATION, location={**FIX, "lat": 123.0}),
        PayloadError,
        "bad coordinate: lat 123.0 is outside -90..90",
    ),
    (
        *frame(Kind.LOCATION, location={**FIX, "lon": -180.5}),
        PayloadError,
        "bad coordinate: lon -180.5 is outside -180..180",
    ),
    (
        *raw(Kind.LOCATION, frame(Kind.LOCATION, **LOC)[1].replace(b"22.5431", b"NaN")),
        PayloadError,
        "bad coordinate: lat nan",
    ),
    (
        *frame(Kind.SOS, location={**FIX, "lat": -91}, **SOS),
        PayloadError,
        "bad coordinate: lat -91",
    ),
    (*frame(Kind.LOCATION, location={**FIX, "lat": "north"}), PayloadError, "'location.lat'"),
    (*frame(Kind.LOCATION, location={**FIX, "acc_m": -1}), PayloadError, "'location.acc_m'"),
    (*frame(Kind.LOCATION, location={**FIX, "fix": "lbs"}), PayloadError, "in 'location.fix'"),
    (
        *frame(Kind.LOCATION, location={**FIX, "fix_ts": "2024-05-01T07:59:00"}),
        PayloadError,
        "timestamp without offset in 'location.fix_ts'",
    ),
    (*frame(Kind.LOCATION, location=[22.5, 114.0]), PayloadError, "in 'location'"),
    # Events.
    (*frame(Kind.SOS), PayloadError, "missing field 'state'"),
    (*frame(Kind.SOS, state="pressed"), PayloadError, "bad value 'pressed' in 'state'"),
    (*frame(Kind.SOS, battery_pct=101, **SOS), PayloadError, "in 'battery_pct'"),
    (*frame(Kind.SOS, trigger="", **SOS), PayloadError, "in 'trigger'"),
    (*frame(Kind.FALL, confidence=1.5, **SOS), PayloadError, "in 'confidence'"),
    (*frame(Kind.ALARM, alarms="low_battery"), PayloadError, "in 'alarms': expected a list"),
    (*frame(Kind.ALARM, alarms=[]), PayloadError, "in 'alarms'"),
    (*frame(Kind.ALARM, alarms=["low_battery", ""]), PayloadError, "in 'alarms[1]'"),
    (*frame(Kind.ALARM), PayloadError, "missing field 'alarms'"),
    # Telemetry.
    (
        *frame(Kind.VITALS, heart_rate={"bpm": 70}),
        PayloadError,
        "missing field 'heart_rate.status'",
    ),
    (
        *frame(Kind.VITALS, spo2={"pct": 97, "status": "ok"}),
        PayloadError,
        "in 'spo2.status'",
    ),
    (
        *frame(Kind.HEARTBEAT, battery_pct=80, charging=False, interval_s=0),
        PayloadError,
        "in 'interval_s'",
    ),
    (
        *frame(Kind.HEARTBEAT, battery_pct=80, charging="maybe", interval_s=60),
        PayloadError,
        "in 'charging'",
    ),
    (*frame(Kind.HEARTBEAT, charging=False, interval_s=60), PayloadError, "'battery_pct'"),
    (*frame(Kind.STATUS, state="sleeping"), PayloadError, "in 'state'"),
    (*frame(Kind.CMD_RES, ok=True), PayloadError, "missing field 'ack_of'"),
    # Limits: what the server stores must fit its columns, its logs and its clock.
    (*frame(Kind.SOS, msg_id="m\x00", **SOS), PayloadError, "control character in 'msg_id'"),
    (*frame(Kind.SOS, trigger="a\nb", **SOS), PayloadError, "control character in 'trigger'"),
    (
        *frame(Kind.ALARM, alarms=["low_battery", "a\x00"]),
        PayloadError,
        "control character in 'alarms[1]'",
    ),
    (
        *frame(Kind.ALARM, alarms=["x"] * 17),
        PayloadError,
        "in 'alarms': list should have at most 16 items",
    ),
    (*frame(Kind.CMD_RES, ack_of="s", ok=True, detail="\x7f"), PayloadError, "in 'detail'"),
    (*frame(Kind.CMD_RES, ack_of="s", ok=True, detail="d" * 501), PayloadError, "in 'detail'"),
    (
        *frame(Kind.HEARTBEAT, battery_pct=80, charging=False, interval_s=2**31),
        PayloadError,
        "bad value 2147483648 in 'interval_s': input should be less than or equal to 604800",
    ),
    (*frame(Kind.SOS, seq=2**63, **SOS), PayloadError, "in 'seq'"),
    (
        *frame(Kind.VITALS, heart_rate={"bpm": 301, "status": "valid"}),
        PayloadError,
        "in 'heart_rate.bpm'",
    ),
    (
        *frame(Kind.VITALS, temperature={"celsius": 51, "status": "valid"}),
        PayloadError,
        "in 'temperature.celsius'",
    ),
    (*frame(Kind.LOCATION, location={**FIX, "acc_m": 1e308}), PayloadError, "'location.acc_m'"),
    (
        *frame(Kind.SOS, ts="0001-01-01T00:00:00+23:59", **SOS),
        PayloadError,
        "timestamp out of range in 'ts': '0001-01-01T00:00:00+23:59'",
    ),
    (
        *frame(Kind.LOCATION, location={**FIX, "fix_ts": "9999-12-31T23:59:59-23:59"}),
        PayloadError,
        "timestamp out of range in 'location.fix_ts'",
    ),
    (
        *frame(Kind.STATUS, state="online", x="x" * 70_000),
        PayloadError,
        "payload of 70",
    ),
    (*raw(Kind.SOS, b"[" * 10_000), PayloadError, "payload is not valid JSON: recursion limit"),
]


@pytest.mark.parametrize(("topic", "payload", "error", "reason"), INVALID_FRAMES)
def test_invalid_frames_raise_their_error_with_a_readable_reason(
    topic: str, payload: bytes, error: type[ProtocolError], reason: str
) -> None:
    """Each invalid frame raises exactly its error class with the expected reason."""
    with pytest.raises(ProtocolError) as caught:
        decode(topic, payload)
    assert type(caught.value) is error
    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason


def test_outbound_decoding_refuses_device_topics() -> None:
    """A device-side reader refuses a device-to-server topic with a TopicError."""
    with pytest.raises(TopicError, match="is a device-to-server topic"):
        decode_outbound(*frame(Kind.SOS, **SOS))


def test_outbound_decoding_checks_payloads_too() -> None:
    """A malformed ack is rejected on the device side with a PayloadError."""
    with pytest.raises(PayloadError, match="bad value 'ok' in 'result'"):
        decode_outbound(*frame(Kind.ACK, ack_of="m-1", result="ok"))


def test_several_problems_are_counted_in_one_reason() -> None:
    """A payload with several problems names the first and counts the rest."""
    with pytest.raises(PayloadError, match=r"missing field 'state' \(and 1 more problem\)$"):
        decode(*frame(Kind.SOS, battery_pct=300))


def test_a_rejected_payload_still_names_its_device_message_and_kind() -> None:
    """A rejected SOS carries the topic's device, the payload's msg_id and its kind for the ack."""
    with pytest.raises(PayloadError) as caught:
        decode(*frame(Kind.SOS, msg_id="sos-77", location={**FIX, "lat": 123.0}, **SOS))
    assert (caught.value.device_id, caught.value.msg_id, caught.value.kind) == (
        DEVICE,
        "sos-77",
        Kind.SOS,
    )


def test_a_mismatched_device_is_reported_as_the_topics_device() -> None:
    """On a device mismatch the error names the topic's (authenticated) device id."""
    with pytest.raises(DeviceMismatchError) as caught:
        decode(*frame(Kind.SOS, device_id="860000000000002", msg_id="x-1", **SOS))
    assert (caught.value.device_id, caught.value.msg_id) == (DEVICE, "x-1")


def test_an_unknown_kind_still_names_the_device() -> None:
    """A topic with an unknown kind still yields the device id and msg_id when readable."""
    with pytest.raises(TopicError) as caught:
        decode(f"hyt/v1/d/{DEVICE}/evt/fire", VALID_SOS)
    assert (caught.value.device_id, caught.value.msg_id, caught.value.kind) == (DEVICE, "m-1", None)


def test_unreadable_json_has_no_msg_id() -> None:
    """When the payload is not JSON, the error carries no msg_id rather than a guess."""
    with pytest.raises(PayloadError) as caught:
        decode(*raw(Kind.SOS, b'{"msg_id": "m-1", '))
    assert caught.value.msg_id is None
    assert caught.value.device_id == DEVICE


def test_validation_errors_are_chained_as_the_cause() -> None:
    """Pydantic's error is kept as the cause, so tracebacks show the original detail."""
    with pytest.raises(PayloadError) as caught:
        decode(*frame(Kind.SOS, ts=TS.replace("+08:00", ""), **SOS))
    assert isinstance(caught.value.__cause__, ValidationError)


def test_huge_values_are_shortened_in_reasons() -> None:
    """A huge bad value is cut short in the reason so one frame cannot flood the log."""
    with pytest.raises(PayloadError) as caught:
        decode(*frame(Kind.SOS, state="x" * 10_000))
    assert len(caught.value.reason) < 200


def test_a_huge_topic_is_shortened_in_the_reason() -> None:
    """A megabyte of topic is cut short in the reason, so one frame cannot flood the log."""
    with pytest.raises(TopicError) as caught:
        decode("hyt/v1/d/" + "9" * 1_000_000 + "/evt/sos", VALID_SOS)
    assert len(caught.value.reason) <= MAX_REASON_LENGTH


def test_control_characters_never_reach_a_reason() -> None:
    """A reason quoting a topic with NUL and escapes shows them escaped, on one line."""
    with pytest.raises(TopicError) as caught:
        decode(f"hyt/v1/d/{DEVICE}/evt/sos\x00\n\x1b[2J", VALID_SOS)
    assert "\\x00" in caught.value.reason
    assert not any(ord(char) < 32 for char in caught.value.reason)


def test_a_msg_id_with_a_control_character_is_never_peeked() -> None:
    """A refused frame's msg_id is only reported when decode would have accepted it."""
    with pytest.raises(PayloadError) as caught:
        decode(*frame(Kind.SOS, msg_id="m\x00", **SOS))
    assert caught.value.msg_id is None


def test_strange_parser_failures_become_payload_errors() -> None:
    """A bytearray of odd bytes, or nesting past any limit, is a PayloadError, never a crash."""
    for payload in (bytearray(b"\xff" * 10), b"{" * 60_000, b'{"v":' + b"9" * 60_000 + b"}"):
        with pytest.raises(PayloadError):
            decode(f"hyt/v1/d/{DEVICE}/tel/heartbeat", payload)
