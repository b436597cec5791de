"""The tables: one source of truth for every process (DESIGN.md §3, §6).

Times are stored as UTC and come back timezone-aware on every backend (SQLite keeps no offset,
so ``UtcDateTime`` restores it). A status column holds one value of its enum in the code, and a
CHECK constraint (``one_of``) makes the database refuse any other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from dispatcher.core import OfferStatus
from sla import Category, SlaStatus, State


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class OutboxStatus(StrEnum):
    """Where an outbox row is: waiting, leased to a sender, sent, or given up on."""

    PENDING = "pending"  # due at next_attempt_at (first try, or a retry after backoff)
    SENDING = "sending"  # claimed until next_attempt_at; a lapsed lease makes it due again
    SENT = "sent"
    FAILED = "failed"


def one_of(column: str, values: type[StrEnum]) -> CheckConstraint:
    """CHECK that ``column`` holds a value of the enum (named ``ck_<table>_<column>``)."""
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # SQLAlchemy reads this class attribute by name; it is never mutated.
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


class Elder(Base):
    __tablename__ = "elders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    age: Mapped[int | None]
    gender: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(300))
    community: Mapped[str | None] = mapped_column(String(100))
    home_lat: Mapped[float] = mapped_column(Float)
    home_lon: Mapped[float] = mapped_column(Float)
    medical_notes: Mapped[str | None] = mapped_column(Text)
    key_safe_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    contacts: Mapped[list[EmergencyContact]] = relationship(
        order_by="EmergencyContact.priority", cascade="all, delete-orphan", lazy="selectin"
    )


class EmergencyContact(Base):
    __tablename__ = "emergency_contacts"
    __table_args__ = (UniqueConstraint("elder_id", "priority"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    priority: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    relation: Mapped[str | None] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(32))


class Device(Base):
    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id"), index=True)
    model: Mapped[str] = mapped_column(String(16))  # handset | wristband
    report_interval_s: Mapped[int] = mapped_column(Integer, default=300)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None]
    offline_after: Mapped[datetime | None] = mapped_column(index=True)
    # The codes of the last evt/alarm, comma-joined: up to 16 codes of 64 characters each in the
    # contract (device_protocol.limits), unbounded before it; TEXT, so no list can overflow it.
    last_alarms: Mapped[str | None] = mapped_column(Text)
    last_alarms_at: Mapped[datetime | None]
    battery_pct: Mapped[int | None]
    charging: Mapped[bool | None]
    worn: Mapped[bool | None]
    signal_pct: Mapped[int | None]
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_acc_m: Mapped[float | None] = mapped_column(Float)
    last_fix: Mapped[str | None] = mapped_column(String(8))
    last_located_at: Mapped[datetime | None]
    last_vitals: Mapped[dict[str, Any] | None]
    last_vitals_at: Mapped[datetime | None]


class Helper(Base):
    __tablename__ = "helpers"
    __table_args__ = (Index("ix_helpers_duty_position", "on_duty", "lat", "lon"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_ref: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(32), default="volunteer")
    skills: Mapped[str] = mapped_column(String(300), default="")
    travel_mode: Mapped[str] = mapped_column(String(8))
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    located_at: Mapped[datetime | None]
    active_incident_id: Mapped[int | None] = mapped_column(Integer, index=True)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_open_deadline", "state", "deadline"),
        one_of("state", State),
        one_of("sla_status", SlaStatus),
        one_of("category", Category),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    elder_id: Mapped[int | None] = mapped_column(ForeignKey("elders.id"), index=True)
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(16))  # sla.Category
    kind: Mapped[str] = mapped_column(String(16))  # sos | fall | vitals | alarm | request
    summary: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16))  # sla.State
    unregistered: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime]
    deadline: Mapped[datetime]
    assigned_helper_id: Mapped[int | None] = mapped_column(ForeignKey("helpers.id"))
    accepted_at: Mapped[datetime | None]
    eta_at: Mapped[datetime | None]
    arrived_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(300))
    sla_status: Mapped[str] = mapped_column(String(24), default=SlaStatus.ON_TRACK.value)
    sla_code: Mapped[str | None] = mapped_column(String(32))
    sla_reason: Mapped[str | None] = mapped_column(String(300))
    has_candidates: Mapped[bool] = mapped_column(Boolean, default=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class Offer(Base):
    __tablename__ = "offers"
    __table_args__ = (one_of("status", OfferStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    helper_id: Mapped[int] = mapped_column(ForeignKey("helpers.id"), index=True)
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # OfferStatus: pending | accepted | declined | expired | withdrawn | released (taken off)
    status: Mapped[str] = mapped_column(String(16))
    responded_at: Mapped[datetime | None]
    distance_m: Mapped[float] = mapped_column(Float)
    eta_s: Mapped[int]
    accept_code: Mapped[str] = mapped_column(String(16))


class TimelineEntry(Base):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Timer(Base):
    """A deadline, offer expiry or escalation step, durable so a restart resumes every clock."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "fired_at", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))  # offer_expiry|accept_check|deadline|escalation
    due_at: Mapped[datetime]
    ref: Mapped[int | None]  # offer id, or escalation level
    fired_at: Mapped[datetime | None]


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        one_of("status", OutboxStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # sms
    purpose: Mapped[str] = mapped_column(String(24))  # helper_offer|family|escalation
    recipient: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    # Twilio's id for the message (SM…); status callbacks find the row by it.
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # What the provider's status callbacks said since: queued|sent|delivered|undelivered|failed…
    delivery_status: Mapped[str | None] = mapped_column(String(16))


class ReceivedMessage(Base):
    """Emergency-lane dedupe: (device_id, msg_id) seen, and the incident it led to."""

    __tablename__ = "received_messages"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    incident_id: Mapped[int | None]


class TelemetryEvent(Base):
    """History of location, vitals and heartbeat reports; the unique key dedupes retries."""

    __tablename__ = "telemetry"
    __table_args__ = (
        UniqueConstraint("device_id", "msg_id"),
        Index("ix_telemetry_device_time", "device_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    msg_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    device_ts: Mapped[datetime]
    received_at: Mapped[datetime]
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    payload: Mapped[str] = mapped_column(Text)  # the device's JSON as received


class DeadLetter(Base):
    """A device message that could not be used: kept as received, with the reason.

    Written when a message is refused, so nothing here may be refused in turn: the topic is TEXT
    (one ``+`` level of a subscription matches any length), the payload raw bytes, the reason
    TEXT, and ``device_id`` is set only when it is a valid device id.
    """

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    topic: Mapped[str] = mapped_column(Text)
    device_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


def column_width(model: type[Base], column: str) -> int | None:
    """The length of a String column as declared here (None: unbounded text)."""
    column_type = model.__table__.c[column].type
    return column_type.length if isinstance(column_type, String) else None
