"""Message models of protocol v1: the envelope, what devices send, and what the server answers.

Models are frozen values. Unknown fields are ignored because vendors add their own; numbers in
strings are accepted for the same reason. Timestamps are stricter: RFC 3339 text with an offset
only, since a naive or epoch time cannot be placed on the SLA clock's timeline without guessing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

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


def _refuse_epochs(value: Any) -> Any:
    # Pydantic would read a number, or a string of digits, as a Unix time: the contract says
    # RFC 3339 text, and a device sending epochs has a clock setting worth hearing about.
    # (Strict() would refuse ISO strings in model_validate(dict) from Python callers too.)
    if isinstance(value, int | float) or (isinstance(value, str) and value[4:5] != "-"):
        raise PydanticCustomError("datetime_epoch", "a Unix time is not an RFC 3339 timestamp")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_refuse_epochs)]
Percent = Annotated[int, Field(ge=0, le=100)]
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
        default=None, ge=0, allow_inf_nan=False, description="Accuracy radius, metres"
    )
    fix: Literal["gnss", "wifi", "cell"] = Field(description="How the position was obtained")
    fix_ts: Timestamp | None = Field(default=None, description="When the fix was taken")


class Envelope(_WireModel):
    """Fields every message carries, in both directions."""

    KIND: ClassVar[Kind]

    v: Literal[1] = Field(description="Protocol version")
    msg_id: str = Field(
        min_length=1, max_length=64, description="Unique per message, stable across retries"
    )
    device_id: str = Field(pattern=DEVICE_ID_PATTERN, description="Must equal the topic's")
    ts: Timestamp = Field(description="Sender's clock, RFC 3339 with offset")
    seq: int | None = Field(default=None, ge=0, description="Optional sender sequence number")


class SosEvent(Envelope):
    """The wearer pressed SOS (or the device cancelled one, e.g. a charger-removal SOS)."""

    KIND = Kind.SOS

    state: EventState
    trigger: str = Field(default=SosTrigger.BUTTON.value, min_length=1, max_length=64)
    location: Location | None = Field(default=None, description="Last known position")
    battery_pct: Percent | None = None


class FallEvent(Envelope):
    """The device detected a fall (or the wearer cancelled it)."""

    KIND = Kind.FALL

    state: EventState
    location: Location | None = None
    battery_pct: Percent | None = None
    confidence: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)


class AlarmEvent(Envelope):
    """Other alarms; several can fire at once, so ``alarms`` is always a list."""

    KIND = Kind.ALARM

    alarms: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, description="Alarm codes; see AlarmCode for the known ones"
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

    bpm: int
    status: ReadingStatus

    @property
    def is_valid(self) -> bool:
        """Whether this reading may be compared with alarm thresholds."""
        return self.status == "valid" and self.bpm > 0


class BloodPressure(_WireModel):
    """Blood pressure in mmHg."""

    systolic: int
    diastolic: int
    status: ReadingStatus

    @property
    def is_valid(self) -> bool:
        """Whether this reading may be compared with alarm thresholds."""
        return self.status == "valid" and self.systolic > 0 and self.diastolic > 0


class SpO2(_WireModel):
    """Blood oxygen saturation in percent."""

    pct: int
    status: ReadingStatus

    @property
    def is_valid(self) -> bool:
        """Whether this reading may be compared with alarm thresholds."""
        return self.status == "valid" and 0 < self.pct <= 100


class Temperature(_WireModel):
    """Body temperature in degrees Celsius."""

    celsius: float = Field(allow_inf_nan=False)
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
    interval_s: int = Field(gt=0, description="Seconds until the next heartbeat")


class StatusReport(Envelope):
    """Online/offline, retained; ``offline`` is also the device's MQTT Will."""

    KIND = Kind.STATUS

    state: Literal["online", "offline"]


class CommandResult(Envelope):
    """The device's answer to a ``cmd/req``."""

    KIND = Kind.CMD_RES

    ack_of: str = Field(min_length=1, max_length=64, description="msg_id of the request")
    ok: bool
    detail: str | None = None


class Ack(Envelope):
    """The server's answer to an event; the device stops retrying once it arrives."""

    KIND = Kind.ACK

    ack_of: str = Field(min_length=1, max_length=64, description="msg_id being acknowledged")
    result: Literal["accepted", "duplicate", "rejected"]
    incident_id: int | None = None
    prompt: str | None = Field(default=None, description="Text or TTS for the wearer")
    reason: str | None = Field(default=None, description="Why it was rejected")


class CommandRequest(Envelope):
    """A command from the server to a device."""

    KIND = Kind.CMD_REQ

    cmd: Literal["locate_now", "set_sos_numbers", "set_report_interval"]
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
