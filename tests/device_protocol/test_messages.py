"""Message models: vital-sign validity, alarm codes, and immutability."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from device_protocol import (
    MODEL_BY_KIND,
    Ack,
    AlarmCode,
    BloodPressure,
    HeartRate,
    Kind,
    SosEvent,
    SosTrigger,
    SpO2,
    Temperature,
    decode_outbound,
    encode,
    topic_of,
)

Reading = HeartRate | BloodPressure | SpO2 | Temperature

READINGS: list[tuple[Reading, bool]] = [
    (HeartRate(bpm=72, status="valid"), True),
    (HeartRate(bpm=0, status="valid"), False),
    (HeartRate(bpm=72, status="invalid"), False),
    (HeartRate(bpm=72, status="failed"), False),
    (BloodPressure(systolic=120, diastolic=80, status="valid"), True),
    (BloodPressure(systolic=120, diastolic=0, status="valid"), False),
    (BloodPressure(systolic=0, diastolic=80, status="valid"), False),
    (BloodPressure(systolic=120, diastolic=80, status="failed"), False),
    (SpO2(pct=97, status="valid"), True),
    (SpO2(pct=100, status="valid"), True),
    (SpO2(pct=0, status="valid"), False),
    (SpO2(pct=97, status="invalid"), False),
    (Temperature(celsius=36.6, status="valid"), True),
    (Temperature(celsius=0.0, status="valid"), False),
    (Temperature(celsius=36.6, status="failed"), False),
]


@pytest.mark.parametrize(("reading", "valid"), READINGS)
def test_only_valid_positive_readings_count(reading: Reading, valid: bool) -> None:
    """A reading is valid only with status 'valid' and values above zero."""
    assert reading.is_valid is valid


def test_alarm_codes_are_the_documented_ones() -> None:
    """The known alarm codes are the six the protocol documents."""
    assert {code.value for code in AlarmCode} == {
        "low_battery",
        "removed",
        "power_cut",
        "geofence_exit",
        "sim_changed",
        "tamper",
    }


def test_sos_trigger_defaults_to_the_button() -> None:
    """An SOS that does not say how it was triggered was a button press."""
    sos = SosEvent(
        v=1, msg_id="m-1", device_id="d1", ts=datetime(2024, 5, 1, tzinfo=UTC), state="raised"
    )
    assert sos.trigger == SosTrigger.BUTTON


def test_models_are_frozen() -> None:
    """A decoded message cannot be altered after the fact."""
    sos = SosEvent(
        v=1, msg_id="m-1", device_id="d1", ts=datetime(2024, 5, 1, tzinfo=UTC), state="raised"
    )
    with pytest.raises(ValidationError, match="frozen"):
        sos.state = "cancelled"  # type: ignore[misc]


def test_naive_datetimes_are_refused_in_code_too() -> None:
    """Building a message with a naive datetime fails, as it would on the wire."""
    with pytest.raises(ValidationError, match="timezone"):
        SosEvent(v=1, msg_id="m-1", device_id="d1", ts=datetime(2024, 5, 1), state="raised")  # noqa: DTZ001


def test_every_kind_has_exactly_one_model() -> None:
    """Each kind maps to a model whose own KIND is that kind."""
    assert set(MODEL_BY_KIND) == set(Kind)
    for kind, model in MODEL_BY_KIND.items():
        assert model.KIND is kind


@pytest.mark.parametrize(
    "build",
    [
        lambda: HeartRate(bpm=-1, status="valid"),
        lambda: HeartRate(bpm=301, status="valid"),
        lambda: SpO2(pct=255, status="invalid"),
        lambda: BloodPressure(systolic=2**31, diastolic=80, status="valid"),
        lambda: Temperature(celsius=float("nan"), status="failed"),
    ],
)
def test_readings_outside_their_range_are_refused_in_code_too(build: Callable[[], object]) -> None:
    """A reading no body can produce fails at construction, as it would on the wire."""
    with pytest.raises(ValidationError):
        build()


def test_a_message_built_in_code_has_no_clock_flag() -> None:
    """Only decode sets clock_rejected; a model built by the simulator never has it."""
    sos = SosEvent(
        v=1, msg_id="m-1", device_id="d1", ts=datetime(2024, 5, 1, tzinfo=UTC), state="raised"
    )
    assert sos.clock_rejected is None


def test_server_acks_still_build_and_encode() -> None:
    """The server's acks (long reason, Chinese prompt, uuid msg_id) build, encode and read back."""
    ack = Ack(
        v=1,
        msg_id=uuid.uuid4().hex,
        device_id="860000000000001",
        ts=datetime(2024, 5, 1, tzinfo=UTC),
        ack_of="860000000000001-000412",
        result="rejected",
        incident_id=1042,
        prompt="已收到呼救，助老员正在赶来",
        reason=("bad value 'x' in 'state': " + "x" * 300)[:200],
    )
    assert decode_outbound(topic_of(ack), encode(ack)) == ack
