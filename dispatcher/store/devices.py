"""Devices' rows: the registry cache, dedupe, what devices report, dead letters.

Everything ingest writes goes through here, so ingest itself holds no SQL. Telemetry is written
with Core executemany (one statement per kind of state), not per-row ORM updates. What operators
see of the devices (lists, dead letters) is ``store/fleet.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from device_protocol import (
    DEVICE_ID_PATTERN,
    AlarmEvent,
    CommandResult,
    EmergencyEvent,
    FallEvent,
    Heartbeat,
    InboundMessage,
    LocationReport,
    SosEvent,
    StatusReport,
    VitalsReport,
    peek_device_id,
)
from dispatcher.store import Session
from dispatcher.store.database import Database
from dispatcher.store.models import DeadLetter, Device, Incident, ReceivedMessage, TelemetryEvent
from dispatcher.text_safety import printable

__all__ = [
    "MAX_DEAD_LETTER_BYTES",
    "DeadItem",
    "DeviceInfo",
    "DeviceStore",
    "KnownDevices",
    "Received",
    "mark_silent_devices_offline",
]

# A dead letter keeps the payload as received, up to this much (the broker's message_size_limit
# should stop anything larger; see docs/operations.md).
MAX_DEAD_LETTER_BYTES = 1024 * 1024
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)


@dataclass(frozen=True)
class Received:
    """One message as ingest got it: the raw frame and the server's receive time."""

    topic: str
    payload: bytes
    received_at: datetime


DeadItem = tuple[Received, str, str | None, str | None]  # message, reason, device_id, msg_id


@dataclass(frozen=True)
class DeviceInfo:
    elder_id: int | None
    report_interval_s: int


class KnownDevices:
    """Registered devices, cached: telemetry checks every message against it.

    A miss asks the database (a device registered a moment ago), and unknown ids are remembered
    for a short while so a flood from one unregistered device costs one query, not thousands.
    Known entries expire too: a device moved to another elder by an import in any process is
    seen here within ``positive_ttl`` (and an incident is opened on a fresh read, never this).
    """

    def __init__(
        self,
        negative_ttl: timedelta = timedelta(seconds=30),
        positive_ttl: timedelta = timedelta(minutes=1),
    ) -> None:
        self._known: dict[str, tuple[DeviceInfo, datetime]] = {}
        self._unknown: dict[str, datetime] = {}
        self._negative_ttl = negative_ttl
        self._positive_ttl = positive_ttl

    async def load(self, s: Session, now: datetime) -> None:
        rows = await s.execute(select(Device.device_id, Device.elder_id, Device.report_interval_s))
        until = now + self._positive_ttl
        self._known = {d: (DeviceInfo(e, i), until) for d, e, i in rows}

    async def resolve(self, s: Session, ids: set[str], now: datetime) -> dict[str, DeviceInfo]:
        missing = {
            d
            for d in ids
            if (d not in self._known or self._known[d][1] < now)
            and (d not in self._unknown or self._unknown[d] < now)
        }
        if missing:
            rows = await s.execute(
                select(Device.device_id, Device.elder_id, Device.report_interval_s).where(
                    Device.device_id.in_(missing)
                )
            )
            until = now + self._positive_ttl
            found = set()
            for d, e, i in rows:
                self._known[d] = (DeviceInfo(e, i), until)
                self._unknown.pop(d, None)
                found.add(d)
            for d in missing - found:  # unregistered, or deleted since it was cached
                self._known.pop(d, None)
                self._unknown[d] = now + self._negative_ttl
        return {d: self._known[d][0] for d in ids if d in self._known}

    def forget(self, device_id: str) -> None:
        self._known.pop(device_id, None)
        self._unknown.pop(device_id, None)


class DeviceStore:
    def __init__(self, db: Database, offline_after_intervals: int) -> None:
        self.db = db
        self.offline_after_intervals = offline_after_intervals
        self.known = KnownDevices()

    # ---- dedupe ---------------------------------------------------------------------------

    async def first_sighting(
        self, s: Session, device_id: str, msg_id: str, kind: str, now: datetime
    ) -> tuple[ReceivedMessage | None, int | None]:
        """Record (device_id, msg_id); if it was seen before, say which incident it led to."""
        seen = ReceivedMessage(device_id=device_id, msg_id=msg_id, kind=kind, received_at=now)
        try:
            async with s.begin_nested():
                s.add(seen)
        except IntegrityError:
            previous = await s.execute(
                select(ReceivedMessage.incident_id).where(
                    ReceivedMessage.device_id == device_id, ReceivedMessage.msg_id == msg_id
                )
            )
            return None, previous.scalar_one_or_none()
        return seen, None

    @staticmethod
    def link(seen: ReceivedMessage | None, incident_id: int | None) -> None:
        if seen is not None:
            seen.incident_id = incident_id

    # ---- the emergency lane's device facts ------------------------------------------------

    async def device(self, s: Session, device_id: str) -> Device | None:
        return await s.get(Device, device_id)

    async def note_emergency(
        self, s: Session, message: EmergencyEvent, now: datetime
    ) -> Device | None:
        """What an emergency message says about its device: seen, battery, position, alarms."""
        device = await s.get(Device, message.device_id)
        if device is None:
            return None
        device.last_seen_at, device.online = now, True
        device.offline_after = now + timedelta(
            seconds=device.report_interval_s * self.offline_after_intervals
        )
        if message.battery_pct is not None:
            device.battery_pct = message.battery_pct
        if isinstance(message, AlarmEvent):
            device.last_alarms, device.last_alarms_at = ",".join(message.alarms), now
        elif isinstance(message, SosEvent | FallEvent) and message.location is not None:
            loc = message.location
            device.last_lat, device.last_lon, device.last_fix = loc.lat, loc.lon, loc.fix
            device.last_acc_m, device.last_located_at = loc.acc_m, now
        return device

    async def incident_state(self, s: Session, incident_id: int | None) -> str | None:
        if incident_id is None:
            return None
        row = await s.get(Incident, incident_id)
        return row.state if row is not None else None

    # ---- telemetry ------------------------------------------------------------------------

    async def write_telemetry(
        self,
        s: Session,
        rows: Sequence[tuple[Received, InboundMessage]],
        known: dict[str, DeviceInfo],
    ) -> None:
        history: list[dict[str, Any]] = []
        latest: dict[str, dict[str, dict[str, Any]]] = {
            "seen": {},
            "location": {},
            "vitals": {},
            "heartbeat": {},
        }
        # A batch may hold a redelivered older report after a newer one: the latest state is the
        # one the device stamped last, not the one that arrived last.
        for msg, m in sorted(rows, key=lambda pair: pair[1].ts):
            at = msg.received_at
            interval = known[m.device_id].report_interval_s
            seen = {
                "b_id": m.device_id,
                "last_seen_at": at,
                "online": True,
                "offline_after": at + timedelta(seconds=interval * self.offline_after_intervals),
            }
            lat = lon = None
            if isinstance(m, LocationReport):
                lat, lon = m.location.lat, m.location.lon
                latest["location"][m.device_id] = {
                    "b_id": m.device_id,
                    "last_lat": lat,
                    "last_lon": lon,
                    "last_acc_m": m.location.acc_m,
                    "last_fix": m.location.fix,
                    "last_located_at": at,
                }
            elif isinstance(m, VitalsReport):
                latest["vitals"][m.device_id] = {
                    "b_id": m.device_id,
                    "last_vitals": m.model_dump(
                        mode="json",
                        include={"heart_rate", "blood_pressure", "spo2", "temperature"},
                        exclude_none=True,
                    ),
                    "last_vitals_at": at,
                }
            elif isinstance(m, Heartbeat):
                seen["offline_after"] = at + timedelta(
                    seconds=m.interval_s * self.offline_after_intervals
                )
                latest["heartbeat"][m.device_id] = {
                    "b_id": m.device_id,
                    "battery_pct": m.battery_pct,
                    "charging": m.charging,
                    "worn": m.worn,
                    "signal_pct": m.signal_pct,
                    "report_interval_s": m.interval_s,
                }
            elif isinstance(m, StatusReport):
                seen["online"] = m.state == "online"
            latest["seen"][m.device_id] = seen
            history.append(
                {
                    "device_id": m.device_id,
                    "msg_id": m.msg_id,
                    "kind": _kind_of(m),
                    "device_ts": m.ts,
                    "received_at": at,
                    "lat": lat,
                    "lon": lon,
                    "payload": msg.payload.decode("utf-8", "replace"),
                }
            )
        conn = await s.connection()
        if history:
            dialect = sqlite if self.db.is_sqlite else postgresql
            insert = dialect.insert(TelemetryEvent).on_conflict_do_nothing(
                index_elements=["device_id", "msg_id"]
            )
            await conn.execute(insert, history)
        devices = cast(Table, Device.__table__)
        for group in latest.values():
            if group:
                keys = next(iter(group.values())).keys() - {"b_id"}
                stmt = (
                    update(devices)
                    .where(devices.c.device_id == bindparam("b_id"))
                    .values({k: bindparam(k) for k in keys})
                )
                await conn.execute(stmt, list(group.values()))

    # ---- dead letters ---------------------------------------------------------------------

    def add_dead_letters(self, s: Session, items: Sequence[DeadItem]) -> None:
        """Keep each message as received, in the caller's transaction; nothing here can be refused
        for its content (the payload is bytes, the texts are made printable)."""
        for msg, reason, device_id, _msg_id in items:
            payload = bytes(msg.payload)
            if len(payload) > MAX_DEAD_LETTER_BYTES:
                reason += f" (payload of {len(payload)} bytes kept to {MAX_DEAD_LETTER_BYTES})"
                payload = payload[:MAX_DEAD_LETTER_BYTES]
            if device_id is None or _DEVICE_ID.fullmatch(device_id) is None:
                device_id = peek_device_id(msg.topic)
            s.add(
                DeadLetter(
                    received_at=msg.received_at,
                    topic=printable(msg.topic, 65_535),  # an MQTT topic's own limit
                    device_id=device_id,
                    reason=printable(reason, 2000),
                    payload=payload,
                )
            )


async def mark_silent_devices_offline(s: Session, now: datetime) -> int:
    """Devices silent for N report intervals go offline (the operators see them first)."""
    result = await s.execute(
        update(Device)
        .where(Device.online.is_(True), Device.offline_after < now)
        .values(online=False)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _kind_of(m: InboundMessage) -> str:
    return {
        LocationReport: "location",
        VitalsReport: "vitals",
        Heartbeat: "heartbeat",
        StatusReport: "status",
        CommandResult: "cmd_res",
    }.get(type(m), type(m).__name__)
