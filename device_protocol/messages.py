"""Message models of protocol v1: the envelope, what devices send, and what the server answers.

Models are frozen values. Unknown fields are ignored because vendors add their own; numbers in
strings are accepted for the same reason. Timestamps are stricter: RFC 3339 text with an offset
only, since a naive or epoch time cannot be placed on the SLA clock's timeline without guessing.

Every field a device sets is bounded (see ``limits``): text is length-capped and free of control
characters, integers fit their columns and what a body can measure, numbers are finite, and every
timestamp can be converted to UTC. The checks run inside pydantic's validator, in the one parse.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeAlias, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr
from pydantic_core import PydanticCustomError

from device_protocol.limits import (
    INT64_MAX,
    MAX_ACCURACY_M,
    MAX_ALARM_CODE_LENGTH,
    MAX_ALARMS,
    MAX_BLOOD_PRESSURE_MMHG,
    MAX_CELSIUS,
    MAX_DETAIL_LENGTH,
    MAX_HEART_RATE_BPM,
    MAX_ID_LENGTH,
    MAX_INTERVAL_S,
    MAX_TRIGGER_LENGTH,
    PRINTABLE_PATTERN,
)
from device_protocol.topics import DEVICE_ID_PATTERN, Kind

__all__ = [
    "MODEL_BY_KIND",
    "Ack",
    "AlarmCode",
    "AlarmEvent",
    "BloodPressure",
    "CommandRequest",
    "CommandResult",
    "EmergencyEvent",
    "Envelope",
    "FallEvent",
    "HeartRate",
    "Heartbeat",
    "InboundMessage",
    "Location",
    "LocationReport",
    "OutboundMessage",
    "SosEvent",
    "SosTrigger",
    "SpO2",
    "StatusReport",
    "Temperature",
    "VitalsReport",
]


_EDGE_YEARS = ("0001", "9999")


def _check_timestamp(value: Any) -> Any:
    # Pydantic would read a number, or a string of digits, as a Unix time: the contract says
    # RFC 3339 text, and a device sending epochs has a clock setting worth hearing about.
    # (Strict() would refuse ISO strings in model_validate(dict) from Python callers too.)
    if isinstance(value, int | float) or (isinstance(value, str) and value[4:5] != "-"):
        raise PydanticCustomError("datetime_epoch", "a Unix time is not an RFC 3339 timestamp")
    # 0001-01-01T00:00+23:59 is valid RFC 3339 whose UTC instant is before year 1, and
    # 9999-12-31T23:59-23:59 one after 9999: converting them raised OverflowError deep in the
    # server. No device clock is right in either year, so both are refused, checked on the text
    # (cheap; this runs for every message).
    if (isinstance(value, str) and value.startswith(_EDGE_YEARS)) or (
        isinstance(value, datetime) and value.year in (1, 9999)
    ):
        raise PydanticCustomError(
            "timestamp_range", "years 0001 and 9999 cannot always be represented in UTC"
        )
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_check_timestamp)]
Percent = Annotated[int, Field(ge=0, le=100)]
MessageId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=PRINTABLE_PATTERN)]
AlarmCodeText = Annotated[
    str, Field(min_length=1, max_length=MAX_ALARM_CODE_LENGTH, pattern=PRINTABLE_PATTERN)
]
ReadingStatus = Literal["valid", "invalid", "failed"]
EventState = Literal["raised", "cancelled"]


class _WireModel(BaseModel):
    # Inline here (not a shared ConfigDict variable) so mypy's pydantic plugin sees the models
    # as frozen and flags assignments at type-check time.
    model_config = ConfigDict(frozen=True, extra="ignore")


class AlarmCode(StrEnum):
    """Alarm codes the server knows; devices may send others, which are kept as plain strings."""

    LOW_BATTERY = "low_battery"
    REMOVED = "removed"
    POWER_CUT = "power_cut"
    GEOFENCE_EXIT = "geofence_exit"
    SIM_CHANGED = "sim_changed"
    TAMPER = "tamper"


_KNOWN_ALARMS = frozenset(code.value for code in AlarmCode)


class SosTrigger(StrEnum):
    """SOS triggers seen on real devices; others are accepted as plain strings."""

    BUTTON = "button"
    LONG_PRESS = "long_press"
    CHARGER_REMOVED = "charger_removed"


class Location(_WireModel):
    """A WGS-84 position fix."""

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="Latitude, degrees")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="Longitude, degrees")
    acc_m: float | None = Field(
        default=None,
        ge=0,
        le=MAX_ACCURACY_M,
        allow_inf_nan=False,
        description="Accuracy radius, metres",
    )
    fix: Literal["gnss", "wifi", "cell"] = Field(description="How the position was obtained")
    fix_ts: Timestamp | None = Field(default=None, description="When the fix was taken")


class Envelope(_WireModel):
    """Fields every message carries, in both directions."""

    KIND: ClassVar[Kind]

    v: Literal[1] = Field(description="Protocol version")
    msg_id: MessageId = Field(description="Unique per message, stable across retries")
    device_id: str = Field(pattern=DEVICE_ID_PATTERN, description="Must equal the topic's")
    ts: Timestamp = Field(description="Sender's clock, RFC 3339 with offset")
    seq: int | None = Field(
        default=None, ge=0, le=INT64_MAX, description="Optional sender sequence number"
    )


class _Emergency(Envelope):
    """What the three emergency kinds share: a device clock that is flagged, never fatal."""

    _clock_rejected: str | None = PrivateAttr(default=None)

    @property
    def clock_rejected(self) -> str | None:
        """Why the device's ``ts`` was replaced by the server's receive time; None if kept.

        Set only by ``decode(..., received_at=...)``, never read from the payload (a field of that
        name on the wire is an unknown field, ignored). An emergency is never refused for its
        clock: the SLA runs on server time, so a wrong device clock is a fact to log and show.
        """
        return self._clock_rejected


E = TypeVar("E", bound=_Emergency)


def with_server_clock(message: E, received_at: datetime, reason: str) -> E:
    """A copy of ``message`` on ``received_at``, with ``clock_rejected`` set to ``reason``.

    For ``decode`` only: the one place that knows a device's clock was rejected.
    """
    flagged = message.model_copy(update={"ts": received_at})  # a new value; models are frozen
    flagged._clock_rejected = reason
    return flagged


class SosEvent(_Emergency):
    """The wearer pressed SOS (or the device cancelled one, e.g. a charger-removal SOS)."""

    KIND = Kind.SOS

    state: EventState
    trigger: str = Field(
        default=SosTrigger.BUTTON.value,
        min_length=1,
        max_length=MAX_TRIGGER_LENGTH,
        pattern=PRINTABLE_PATTERN,
    )
    location: Location | None = Field(default=None, description="Last known position")
    battery_pct: Percent | None = None


class FallEvent(_Emergency):
    """The device detected a fall (or the wearer cancelled it)."""

    KIND = Kind.FALL

    state: EventState
    location: Location | None = None
    battery_pct: Percent | None = None
    confidence: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)


class AlarmEvent(_Emergency):
    """Other alarms; several can fire at once, so ``alarms`` is always a list."""

    KIND = Kind.ALARM

    alarms: list[AlarmCodeText] = Field(
        min_length=1,
        max_length=MAX_ALARMS,
        description="Alarm codes; see AlarmCode for the known ones",
    )
    location: Location | None = None
    battery_pct: Percent | None = None

    @property
    def known_alarms(self) -> list[AlarmCode]:
        """The alarms the server understands, in the order sent."""
        return [AlarmCode(code) for code in self.alarms if code in _KNOWN_ALARMS]


class LocationReport(Envelope):
    """A periodic or requested position."""

    KIND = Kind.LOCATION

    location: Location


class HeartRate(_WireModel):
    """Pulse; a failed measurement arrives as zero or with a non-valid status."""

    bpm: int = Field(ge=0, le=MAX_HEART_RATE_BPM, description="Beats per minute; 0 if failed")
    status: ReadingStatus

    @property
    def is_valid(self) -> bool:
        """Whether this reading may be compared with alarm thresholds."""
        return self.status == "valid" and self.bpm > 0


class BloodPressure(_WireModel):
    """Blood pressure in mmHg."""

    systolic: int = Field(ge=0, le=MAX_BLOOD_PRESSURE_MMHG, description="mmHg; 0 if failed")
    diastolic: int = Field(ge=0, le=MAX_BLOOD_PRESSURE_MMHG, description="mmHg; 0 if failed")
    status: ReadingStatus

    @property
    def is_valid(self) -> bool:
        """Whether this reading may be compared with alarm thresholds."""
        return self.status == "valid" and self.systolic > 0 and self.diastolic > 0


class SpO2(_WireModel):
    """Blood oxygen saturation in percent."""

    pct: int = Field(ge=0, le=100, description="Percent; 0 if failed")
    status: ReadingStatus

    @property
    def is_valid(self) -> bool:
        """Whether this reading may be compared with alarm thresholds."""
        return self.status == "valid" and 0 < self.pct <= 100


class Temperature(_WireModel):
    """Body temperature in degrees Celsius."""

    celsius: float = Field(
        ge=0, le=MAX_CELSIUS, allow_inf_nan=False, description="Degrees Celsius; 0 if failed"
    )
    status: ReadingStatus

    @property
    def is_valid(self) -> bool:
        """Whether this reading may be compared with alarm thresholds."""
        return self.status == "valid" and self.celsius > 0


class VitalsReport(Envelope):
    """Whatever readings the device took; each carries its own validity."""

    KIND = Kind.VITALS

    heart_rate: HeartRate | None = None
    blood_pressure: BloodPressure | None = None
    spo2: SpO2 | None = None
    temperature: Temperature | None = None


class Heartbeat(Envelope):
    """Periodic device health; its absence past ``interval_s`` means the device is silent."""

    KIND = Kind.HEARTBEAT

    battery_pct: Percent
    charging: bool
    signal_pct: Percent | None = Field(default=None, description="Radio signal, 0..100")
    worn: bool | None = Field(default=None, description="On the wrist, if the device can tell")
    interval_s: int = Field(
        ge=1, le=MAX_INTERVAL_S, description="Seconds until the next heartbeat (at most 7 days)"
    )


class StatusReport(Envelope):
    """Online/offline, retained; ``offline`` is also the device's MQTT Will."""

    KIND = Kind.STATUS

    state: Literal["online", "offline"]


class CommandResult(Envelope):
    """The device's answer to a ``cmd/req``."""

    KIND = Kind.CMD_RES

    ack_of: MessageId = Field(description="msg_id of the request")
    ok: bool
    detail: str | None = Field(
        default=None, max_length=MAX_DETAIL_LENGTH, pattern=PRINTABLE_PATTERN
    )


class Ack(Envelope):
    """The server's answer to an event; the device stops retrying once it arrives."""

    KIND = Kind.ACK

    ack_of: MessageId = Field(description="msg_id being acknowledged")
    result: Literal["accepted", "duplicate", "rejected"]
    incident_id: int | None = None
    prompt: str | None = Field(default=None, description="Text or TTS for the wearer")
    reason: str | None = Field(default=None, description="Why it was rejected")


class CommandRequest(Envelope):
    """A command from the server to a device."""

    KIND = Kind.CMD_REQ

    cmd: Literal["locate_now", "set_sos_numbers", "set_report_interval", "show_prompt"]
    args: dict[str, object] = Field(default_factory=dict)


EmergencyEvent: TypeAlias = SosEvent | FallEvent | AlarmEvent
InboundMessage: TypeAlias = (
    SosEvent
    | FallEvent
    | AlarmEvent
    | LocationReport
    | VitalsReport
    | Heartbeat
    | StatusReport
    | CommandResult
)
OutboundMessage: TypeAlias = Ack | CommandRequest

MODEL_BY_KIND: dict[Kind, type[Envelope]] = {
    model.KIND: model
    for model in (
        SosEvent,
        FallEvent,
        AlarmEvent,
        LocationReport,
        VitalsReport,
        Heartbeat,
        StatusReport,
        Ack,
        CommandRequest,
        CommandResult,
    )
}
"""The message model of every kind, in both directions."""
