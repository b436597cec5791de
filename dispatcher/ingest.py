"""Device messages in: decode, dedupe, persist, act, acknowledge — in two lanes.

The emergency lane (sos, fall, alarm) handles one message per transaction as soon as it arrives;
the telemetry lane (location, vitals, heartbeat, status) writes batches. They have separate MQTT
connections and loops, so a telemetry backlog never delays an SOS (DESIGN.md §3).

A message is acknowledged to the broker only after its effects are committed: if the process
dies first, the broker redelivers it and the (device_id, msg_id) dedupe makes that harmless.
A message whose handling fails twice is ``refuse``d (``dispatcher.lane_guard`` decides when).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

import structlog
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from device_protocol import (
    DEVICE_ID_PATTERN,
    Ack,
    AlarmEvent,
    CommandResult,
    FallEvent,
    Heartbeat,
    InboundMessage,
    Kind,
    LocationReport,
    ProtocolError,
    SosEvent,
    StatusReport,
    VitalsReport,
    decode,
    encode,
    parse_topic,
    peek_device_id,
    topic_for,
)
from dispatcher.clock import Clock, utcnow
from dispatcher.notifier.texts import device_prompt
from dispatcher.store.database import Database, is_outage
from dispatcher.store.models import (
    DeadLetter,
    Device,
    Elder,
    Incident,
    ReceivedMessage,
    TelemetryEvent,
)
from dispatcher.vitals import VitalThresholds, abnormal_vitals
from dispatcher.workflow import Workflow
from sla import Category

log = structlog.get_logger(__name__)

# A device's clock may be off, and a press may sit in its retry queue: past this age it is
# flagged late for the operators — and still handled, never dropped (DESIGN.md §4).
LATE_AFTER = timedelta(minutes=5)
# A dead letter keeps the payload as received, up to this much (the broker's message_size_limit
# should stop anything larger; see docs/operations.md).
MAX_DEAD_LETTER_BYTES = 1024 * 1024
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

DeadItem = tuple["Inbound", str, str | None, str | None]  # message, reason, device_id, msg_id


class Inbound(Protocol):
    """What ingest needs of a received MQTT message (the adapter's type satisfies it)."""

    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def received_at(self) -> datetime: ...


class Broker(Protocol):
    """What ingest needs of the MQTT connection: acknowledge to the broker, publish to a device."""

    def ack(self, msg: Any) -> None: ...
    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None: ...


@dataclass(frozen=True)
class DeviceInfo:
    elder_id: int | None
    report_interval_s: int


class KnownDevices:
    """Registered devices, cached: telemetry checks every message against it.

    A miss asks the database (a device registered a moment ago), and unknown ids are remembered
    for a short while so a flood from one unregistered device costs one query, not thousands.
    """

    def __init__(self, negative_ttl: timedelta = timedelta(seconds=30)) -> None:
        self._known: dict[str, DeviceInfo] = {}
        self._unknown: dict[str, datetime] = {}
        self._negative_ttl = negative_ttl

    async def load(self, s: AsyncSession) -> None:
        rows = await s.execute(select(Device.device_id, Device.elder_id, Device.report_interval_s))
        self._known = {d: DeviceInfo(e, i) for d, e, i in rows}

    async def resolve(self, s: AsyncSession, ids: set[str], now: datetime) -> dict[str, DeviceInfo]:
        missing = {
            d
            for d in ids
            if d not in self._known and (d not in self._unknown or self._unknown[d] < now)
        }
        if missing:
            rows = await s.execute(
                select(Device.device_id, Device.elder_id, Device.report_interval_s).where(
                    Device.device_id.in_(missing)
                )
            )
            for d, e, i in rows:
                self._known[d] = DeviceInfo(e, i)
                self._unknown.pop(d, None)
            for d in missing - self._known.keys():
                self._unknown[d] = now + self._negative_ttl
        return {d: self._known[d] for d in ids if d in self._known}

    def forget(self, device_id: str) -> None:
        self._known.pop(device_id, None)
        self._unknown.pop(device_id, None)


class Ingest:
    """Both lanes' message handling; the loops in ``dispatcher.server`` feed it."""

    def __init__(
        self,
        db: Database,
        workflow: Workflow,
        thresholds: VitalThresholds,
        offline_after_intervals: int = 3,
        clock: Clock = utcnow,
    ) -> None:
        self.db = db
        self.workflow = workflow
        self.thresholds = thresholds
        self.offline_after_intervals = offline_after_intervals
        self.clock = clock
        self.devices = KnownDevices()
        # Wake-up hints only: the durable truth is each incident's due dispatch timer.
        self.to_dispatch: asyncio.Queue[int] = asyncio.Queue()
        self.counters: dict[str, int] = {}

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    # ---- emergency lane --------------------------------------------------------------------

    async def handle_emergency(self, msg: Inbound, broker: Broker) -> None:
        """One sos/fall/alarm: committed, then acknowledged to the broker and the device."""
        now = msg.received_at
        try:
            # The contract checks ts against our receive time: an emergency with a wrong device
            # clock decodes on server time (clock_rejected says why), telemetry is refused.
            message = decode(msg.topic, msg.payload, received_at=now)
        except ProtocolError as exc:
            dead: DeadItem = (msg, exc.reason, exc.device_id, exc.msg_id)
            incident_id, new = None, False
            # The dead letter and the press commit together: a retry never keeps it twice.
            async with self.db.session(priority=True) as s:
                self._add_dead_letters(s, [dead])
                if exc.kind in (Kind.SOS, Kind.FALL) and exc.device_id is not None:
                    incident_id, new = await self._unreadable_press(
                        s, exc.device_id, exc.kind, exc.msg_id, exc.reason, now
                    )
            self._dead_lettered([dead])
            if new and incident_id is not None:
                self.to_dispatch.put_nowait(incident_id)
            broker.ack(msg)
            device_id = exc.device_id or peek_device_id(msg.topic)
            self._reject(broker, device_id, exc.msg_id, exc.reason, now, incident_id)
            return
        bound = log.bind(device_id=message.device_id, msg_id=message.msg_id)
        async with self.db.session(priority=True) as s:
            seen, incident_id = await self._first_sighting(
                s, message.device_id, message.msg_id, type(message).__name__, now
            )
            if seen is None:  # a QoS 1 redelivery or a device retry: same answer, no new incident
                result = "duplicate"
            else:
                incident_id = await self._act(s, message, now)
                seen.incident_id = incident_id
                result = "accepted"
        self._count(f"emergency_{result}")
        broker.ack(msg)
        if isinstance(message, SosEvent | FallEvent):
            ack = Ack(
                v=1,
                msg_id=uuid.uuid4().hex,
                device_id=message.device_id,
                ts=now,
                ack_of=message.msg_id,
                result=result,
                incident_id=incident_id,
                prompt=device_prompt(result, helper_assigned=incident_id is not None),
                reason=None,
            )
            broker.publish(topic_for(message.device_id, Kind.ACK), encode(ack), qos=1)
        bound.info(
            "emergency_handled",
            result=result,
            incident_id=incident_id,
            kind=type(message).__name__,
            clock_rejected=getattr(message, "clock_rejected", None),
        )
        if incident_id is not None and result == "accepted":
            # Matching runs in its own task so the next press is acknowledged without waiting.
            self.to_dispatch.put_nowait(incident_id)

    async def _act(self, s: AsyncSession, message: InboundMessage, now: datetime) -> int | None:
        device = await s.get(Device, message.device_id)
        elder = await s.get(Elder, device.elder_id) if device and device.elder_id else None
        late = now - message.ts > LATE_AFTER
        actor = f"device:{message.device_id}"
        if device is not None:
            self._touch(device, now)
        if isinstance(message, AlarmEvent):
            if device is not None:
                device.last_alarms, device.last_alarms_at = ",".join(message.alarms), now
                if message.battery_pct is not None:
                    device.battery_pct = message.battery_pct
            open_incident = await self.workflow.find_open(
                s, elder_id=elder.id if elder else None, device_id=message.device_id
            )
            if open_incident is not None:
                self.workflow.record(
                    s, open_incident, now, actor, "device_alarm", alarms=list(message.alarms)
                )
            return open_incident.id if open_incident else None
        if not isinstance(message, SosEvent | FallEvent):
            return None
        kind = "sos" if isinstance(message, SosEvent) else "fall"
        loc = message.location
        if device is not None:
            if message.battery_pct is not None:
                device.battery_pct = message.battery_pct
            if loc is not None:
                device.last_lat, device.last_lon, device.last_fix = loc.lat, loc.lon, loc.fix
                device.last_acc_m, device.last_located_at = loc.acc_m, now
        existing = await self.workflow.find_open(
            s, elder_id=elder.id if elder else None, device_id=message.device_id
        )
        if message.state == "cancelled":
            if existing is None:
                return None
            await self.workflow.device_cancelled(s, existing, now, actor)
            return existing.id
        # Chinese first, English second: operators, helpers' SMS and the console all show it.
        summary = ("一键呼救 SOS button pressed" if kind == "sos" else "跌倒报警 Fall detected") + (
            f" ({message.trigger})"
            if isinstance(message, SosEvent) and message.trigger != "button"
            else ""
        )
        return await self._press(
            s, existing, kind=kind, summary=summary, elder=elder, device_id=message.device_id,
            lat=loc.lat if loc else None, lon=loc.lon if loc else None, now=now,
            unregistered=device is None, late=late,
        )  # fmt: skip

    async def _press(
        self,
        s: AsyncSession,
        existing: Incident | None,
        *,
        kind: str,
        summary: str,
        elder: Elder | None,
        device_id: str,
        lat: float | None,
        lon: float | None,
        now: datetime,
        unregistered: bool = False,
        late: bool = False,
    ) -> int:
        """A press joins the elder's open incident, or opens one; matching runs after the ack."""
        actor = f"device:{device_id}"
        if existing is not None:
            await self.workflow.join(s, existing, now, actor, summary)
            return existing.id
        incident = await self.workflow.open_incident(
            s, now=now, category=Category.EMERGENCY, kind=kind, summary=summary, elder=elder,
            device_id=device_id, lat=lat, lon=lon, actor=actor, unregistered=unregistered,
            late=late, defer_dispatch=True,
        )  # fmt: skip
        return incident.id

    async def _first_sighting(
        self, s: AsyncSession, device_id: str, msg_id: str, kind: str, now: datetime
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

    def _reject(
        self,
        broker: Broker,
        device_id: str | None,
        ack_of: str | None,
        reason: str,
        now: datetime,
        incident_id: int | None = None,
    ) -> None:
        """Tell the device its message was unusable — only when we can say which message."""
        self._count("rejected")
        ack_of = _usable_msg_id(ack_of)
        if device_id is None or _DEVICE_ID.fullmatch(device_id) is None or ack_of is None:
            return
        ack = Ack(
            v=1,
            msg_id=uuid.uuid4().hex,
            device_id=device_id,
            ts=now,
            ack_of=ack_of,
            result="rejected",
            incident_id=incident_id,
            prompt=device_prompt("accepted", helper_assigned=True) if incident_id else None,
            reason=_printable(reason, 200),
        )
        broker.publish(topic_for(device_id, Kind.ACK), encode(ack), qos=1)

    async def _unreadable_press(
        self,
        s: AsyncSession,
        device_id: str,
        kind: Kind,
        msg_id: str | None,
        reason: str,
        now: datetime,
    ) -> tuple[int | None, bool]:
        """A registered device's SOS we cannot read is still someone pressing SOS.

        Returns the incident it opened or joined, and whether this press is new (not a retry of
        one already seen): only a new one is dispatched.
        """
        device = await s.get(Device, device_id)
        if device is None:
            return None, False
        seen = None
        msg_id = _usable_msg_id(msg_id)
        if msg_id:
            seen, previous = await self._first_sighting(s, device_id, msg_id, "unreadable", now)
            if seen is None:
                return previous, False
        elder = await s.get(Elder, device.elder_id) if device.elder_id else None
        press = "fall" if kind == Kind.FALL else "sos"
        label = "fall" if press == "fall" else "SOS"
        summary = _printable(f"无法解析的呼救 Unreadable {label} message: {reason}", 300)
        existing = await self.workflow.find_open(s, elder_id=device.elder_id, device_id=device_id)
        incident_id = await self._press(
            s, existing, kind=press, summary=summary,
            elder=elder, device_id=device_id, lat=device.last_lat, lon=device.last_lon, now=now,
        )  # fmt: skip
        if seen is not None:
            seen.incident_id = incident_id
        log.warning("unreadable_press", device_id=device_id, incident_id=incident_id)
        return incident_id, True

    async def refuse(self, msg: Inbound, broker: Broker, reason: str) -> None:
        """The last word on a message whose handling failed twice: kept, acknowledged, answered.

        It becomes a dead letter with ``reason`` and is acknowledged, and the device gets a
        ``rejected`` ack. An SOS or fall from a registered device still opens (or joins) an
        incident — someone pressed the button — unless even that fails, which is logged: the dead
        letter must be kept whatever the press does. Raises only if the dead letter cannot be
        written (the caller treats that as an outage and tries again).
        """
        now = msg.received_at
        device_id: str | None
        kind: Kind | None
        try:
            device_id, kind = parse_topic(msg.topic)
        except ProtocolError:
            device_id, kind = peek_device_id(msg.topic), None
        try:
            msg_id: str | None = decode(msg.topic, msg.payload, received_at=now).msg_id
        except ProtocolError as exc:
            msg_id = exc.msg_id
        msg_id = _usable_msg_id(msg_id)
        dead: DeadItem = (msg, reason, device_id, msg_id)
        incident_id, new = None, False
        async with self.db.session(priority=True) as s:
            self._add_dead_letters(s, [dead])
            if kind in (Kind.SOS, Kind.FALL) and device_id is not None:
                try:
                    async with s.begin_nested():
                        incident_id, new = await self._unreadable_press(
                            s, device_id, kind, msg_id, reason, now
                        )
                except Exception as exc:
                    if is_outage(exc):
                        raise
                    log.error(
                        "unreadable_press_failed", device_id=device_id, error=f"{exc!r}"[:300]
                    )
        self._dead_lettered([dead])
        self._count("refused")
        if new and incident_id is not None:
            self.to_dispatch.put_nowait(incident_id)
        broker.ack(msg)
        self._reject(broker, device_id, msg_id, "could not be processed", now, incident_id)

    async def dispatch_next(self) -> None:
        """Wait for a freshly opened incident and offer it to a helper."""
        await self.dispatch(await self.to_dispatch.get())

    async def dispatch(self, incident_id: int) -> None:
        """Offer one incident to a helper, if its dispatch timer is still pending."""
        async with self.db.session(priority=True) as s:
            await self.workflow.dispatch_due(s, incident_id, self.clock())

    async def dispatch_pending(self) -> None:
        """Dispatch every incident opened so far (tests and shutdown use this)."""
        while not self.to_dispatch.empty():
            await self.dispatch_next()

    # ---- telemetry lane --------------------------------------------------------------------

    async def handle_telemetry(self, batch: Sequence[Inbound], broker: Broker) -> None:
        """A batch of telemetry, written in one transaction, then acknowledged."""
        decoded: list[tuple[Inbound, InboundMessage]] = []
        dead: list[DeadItem] = []
        for msg in batch:
            try:
                decoded.append((msg, decode(msg.topic, msg.payload, received_at=msg.received_at)))
            except ProtocolError as exc:
                dead.append((msg, exc.reason, exc.device_id, exc.msg_id))
        # One transaction for the batch and its dead letters: a retry never keeps one twice.
        async with self.db.session() as s:
            if decoded:
                now = decoded[-1][0].received_at
                known = await self.devices.resolve(s, {m.device_id for _, m in decoded}, now)
                registered = []
                for msg, m in decoded:
                    if m.device_id in known:
                        registered.append((msg, m))
                    else:
                        dead.append((msg, "unregistered device", m.device_id, m.msg_id))
                await self._write_telemetry(s, registered, known)
                for msg, m in registered:
                    if isinstance(m, VitalsReport):
                        await self._check_vitals(s, m, known[m.device_id], msg.received_at)
            self._add_dead_letters(s, dead)
        self._count("telemetry", len(decoded))
        self._dead_lettered(dead)
        for msg in batch:
            broker.ack(msg)
        for msg, reason, device_id, msg_id in dead:
            self._reject(
                broker, device_id or peek_device_id(msg.topic), msg_id, reason, msg.received_at
            )

    async def _write_telemetry(
        self,
        s: AsyncSession,
        rows: list[tuple[Inbound, InboundMessage]],
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
        rows = sorted(rows, key=lambda pair: pair[1].ts)
        for msg, m in rows:
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
            elif isinstance(m, CommandResult):
                pass
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
        if history:
            await (await s.connection()).execute(self._insert_ignore_duplicates(), history)
        # Core executemany (one statement per kind of state), not per-row ORM updates.
        conn = await s.connection()
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

    def _insert_ignore_duplicates(self) -> Any:
        dialect = sqlite if self.db.is_sqlite else postgresql
        return dialect.insert(TelemetryEvent).on_conflict_do_nothing(
            index_elements=["device_id", "msg_id"]
        )

    async def _check_vitals(
        self, s: AsyncSession, m: VitalsReport, info: DeviceInfo, now: datetime
    ) -> None:
        findings = abnormal_vitals(m, self.thresholds)
        if not findings:
            return
        summary = _printable("体征异常 Abnormal vitals: " + "; ".join(findings), 300)
        actor = f"device:{m.device_id}"
        existing = await self.workflow.find_open(s, elder_id=info.elder_id, device_id=m.device_id)
        if existing is not None:
            self.workflow.record(s, existing, now, actor, "abnormal_vitals", findings=findings)
            return
        elder = await s.get(Elder, info.elder_id) if info.elder_id else None
        device = await s.get(Device, m.device_id)
        await self.workflow.open_incident(
            s,
            now=now,
            category=Category.EMERGENCY,
            kind="vitals",
            summary=summary,
            elder=elder,
            device_id=m.device_id,
            lat=device.last_lat if device else None,
            lon=device.last_lon if device else None,
            actor=actor,
        )
        self._count("vital_alarms")

    # ---- shared ----------------------------------------------------------------------------

    def _touch(self, device: Device, now: datetime) -> None:
        device.last_seen_at, device.online = now, True
        device.offline_after = now + timedelta(
            seconds=device.report_interval_s * self.offline_after_intervals
        )

    def _add_dead_letters(self, s: AsyncSession, items: Sequence[DeadItem]) -> None:
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
                    topic=_printable(msg.topic, 65_535),  # an MQTT topic's own limit
                    device_id=device_id,
                    reason=_printable(reason, 2000),
                    payload=payload,
                )
            )

    def _dead_lettered(self, items: Sequence[DeadItem]) -> None:
        """Log and count dead letters once they are committed."""
        for msg, reason, device_id, msg_id in items:
            log.warning(
                "dead_letter",
                topic=_printable(msg.topic, 200),
                device_id=device_id,
                msg_id=_printable(msg_id, 64) if msg_id else None,
                reason=_printable(reason, 500),
            )
        self._count("dead_letters", len(items))


async def mark_silent_devices_offline(s: AsyncSession, now: datetime) -> int:
    """Devices silent for N report intervals go offline (the operators see them first)."""
    result = await s.execute(
        update(Device)
        .where(Device.online.is_(True), Device.offline_after < now)
        .values(online=False)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _printable(text: str, limit: int) -> str:
    """``text`` safe for any column, log line or SMS: control characters and lone surrogates
    escaped, at most ``limit`` characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)[:limit]


def _usable_msg_id(msg_id: str | None) -> str | None:
    """A msg_id fit for the dedupe key and an ack (1-64 printable characters), else None."""
    if not msg_id or len(msg_id) > 64 or _printable(msg_id, 64) != msg_id:
        return None
    return msg_id


def _kind_of(m: InboundMessage) -> str:
    return {
        LocationReport: "location",
        VitalsReport: "vitals",
        Heartbeat: "heartbeat",
        StatusReport: "status",
        CommandResult: "cmd_res",
    }.get(type(m), type(m).__name__)


__all__ = ["Broker", "Inbound", "Ingest", "KnownDevices", "mark_silent_devices_offline"]
