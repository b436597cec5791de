"""Message models: vital-sign validity, alarm codes, and immutability."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from device_protocol import (
    MODEL_BY_KIND,
    AlarmCode,
    BloodPressure,
    HeartRate,
    Kind,
    SosEvent,
    SosTrigger,
    SpO2,
    Temperature,
)

Reading = HeartRate | BloodPressure | SpO2 | Temperature

READINGS: list[tuple[Reading, bool]] = [
    (HeartRate(bpm=72, status="valid"), True),
    (HeartRate(bpm=0, status="valid"), False),
    (HeartRate(bpm=-1, status="valid"), False),
    (HeartRate(bpm=72, status="invalid"), False),
    (HeartRate(bpm=72, status="failed"), False),
    (BloodPressure(systolic=120, diastolic=80, status="valid"), True),
    (BloodPressure(systolic=120, diastolic=0, status="valid"), False),
    (BloodPressure(systolic=0, diastolic=80, status="valid"), False),
    (BloodPressure(systolic=120, diastolic=80, status="failed"), False),
    (SpO2(pct=97, status="valid"), True),
    (SpO2(pct=100, status="valid"), True),
    (SpO2(pct=0, status="valid"), False),
    (SpO2(pct=255, status="valid"), False),
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
