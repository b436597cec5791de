"""Device messages in: decode, dedupe, persist, hand to the workflow, acknowledge — two lanes.

The emergency lane (sos, fall, alarm) handles one message per transaction as soon as it arrives;
the telemetry lane (location, vitals, heartbeat, status) writes batches. They have separate MQTT
connections and loops, so a telemetry backlog never delays an SOS (DESIGN.md §3).

Ingest never decides what a message means for an incident: it turns it into a ``DeviceReport``
and the workflow (the core's ``route``) opens, joins or flags. A message is acknowledged to the
broker only after its effects are committed: if the process dies first, the broker redelivers it
and the (device_id, msg_id) dedupe makes that harmless. A message whose handling fails twice is
``refuse``d (``dispatcher.lane_guard`` decides when). All SQL is in ``store.devices``.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import structlog

from device_protocol import (
    DEVICE_ID_PATTERN,
    Ack,
    AlarmEvent,
    EmergencyEvent,
    FallEvent,
    InboundMessage,
    Kind,
    ProtocolError,
    SosEvent,
    VitalsReport,
    decode,
    encode,
    parse_topic,
    peek_device_id,
    topic_for,
)
from dispatcher.clock import Clock, utcnow
from dispatcher.core import DeviceReport, ReportKind
from dispatcher.notifier.texts import device_prompt
from dispatcher.store import Database, Session
from dispatcher.store.database import is_outage
from dispatcher.store.devices import (
    DeadItem,
    DeviceInfo,
    DeviceStore,
    Received,
    mark_silent_devices_offline,
)
from dispatcher.text_safety import printable, usable_msg_id
from dispatcher.vitals import VitalThresholds, abnormal_vitals
from dispatcher.workflow import Workflow
from sla import State

log = structlog.get_logger(__name__)

# A device's clock may be off, and a press may sit in its retry queue: past this age it is
# flagged late for the operators — and still handled, never dropped (DESIGN.md §4).
LATE_AFTER = timedelta(minutes=5)
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
_HELPER_COMING = frozenset({State.ASSIGNED.value, State.ON_SCENE.value})


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
        self.clock = clock
        self.store = DeviceStore(db, offline_after_intervals)
        self.devices = self.store.known
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
            await self._unreadable(msg, broker, exc)
            return
        if not isinstance(message, SosEvent | FallEvent | AlarmEvent):  # the lane's topics
            await self.refuse(msg, broker, f"not an emergency topic: {msg.topic}")
            return
        async with self.db.session(priority=True) as s:
            seen, incident_id = await self.store.first_sighting(
                s, message.device_id, message.msg_id, type(message).__name__, now
            )
            if seen is None:  # a QoS 1 redelivery or a device retry: same answer, no new incident
                result: Literal["accepted", "duplicate"] = "duplicate"
                new = False
            else:
                result = "accepted"
                before = incident_id
                incident_id = await self._report(s, message, now)
                new = incident_id is not None and incident_id != before
                self.store.link(seen, incident_id)
            state = await self.store.incident_state(s, incident_id)
        self._count(f"emergency_{result}")
        broker.ack(msg)
        if isinstance(message, SosEvent | FallEvent):
            # True at this moment: "on the way" only once a helper has accepted.
            prompt = device_prompt(result, helper_assigned=state in _HELPER_COMING)
            self._ack(broker, message.device_id, message.msg_id, now, result, incident_id, prompt)
        log.info(
            "emergency_handled",
            device_id=message.device_id,
            msg_id=message.msg_id,
            result=result,
            incident_id=incident_id,
            kind=type(message).__name__,
            clock_rejected=message.clock_rejected,
        )
        if new and incident_id is not None:
            # Matching runs in its own task so the next press is acknowledged without waiting.
            self.to_dispatch.put_nowait(incident_id)

    async def _report(self, s: Session, message: EmergencyEvent, now: datetime) -> int | None:
        """Store what the message says about its device, then let the workflow act on it."""
        device = await self.store.note_emergency(s, message, now)
        loc = message.location
        if isinstance(message, AlarmEvent):
            kind, summary = ReportKind.ALARM, ""
            incident_kind = "alarm"
        else:
            incident_kind = "sos" if isinstance(message, SosEvent) else "fall"
            kind = ReportKind.CANCEL if message.state == "cancelled" else ReportKind.PRESS
            summary = _press_summary(message)
        report = DeviceReport(
            kind=kind,
            device_id=message.device_id,
            elder_id=device.elder_id if device else None,
            incident_kind=incident_kind,
            summary=summary,
            items=tuple(message.alarms) if isinstance(message, AlarmEvent) else (),
            lat=loc.lat if loc else None,
            lon=loc.lon if loc else None,
            registered=device is not None,
            late=message.clock_rejected is None and now - message.ts > LATE_AFTER,
            clock_rejected=message.clock_rejected,
        )
        incident = await self.workflow.device_report(s, report, now)
        return incident.id if incident is not None else None

    async def _unreadable(self, msg: Inbound, broker: Broker, exc: ProtocolError) -> None:
        """A frame the contract refuses: a dead letter, and for an SOS or fall, still a press."""
        now = msg.received_at
        dead: DeadItem = (_received(msg), exc.reason, exc.device_id, exc.msg_id)
        async with self.db.session(priority=True) as s:
            self.store.add_dead_letters(s, [dead])
            incident_id, new = await self._unreadable_press(s, exc.kind, exc.device_id, dead, now)
        self._dead_lettered([dead])
        if new and incident_id is not None:
            self.to_dispatch.put_nowait(incident_id)
        broker.ack(msg)
        device_id = exc.device_id or peek_device_id(msg.topic)
        self._reject(broker, device_id, exc.msg_id, exc.reason, now, incident_id)

    async def _unreadable_press(
        self, s: Session, kind: Kind | None, device_id: str | None, dead: DeadItem, now: datetime
    ) -> tuple[int | None, bool]:
        """A registered device's SOS we cannot read is still someone pressing SOS.

        Returns the incident it opened or joined, and whether this press is new (not a retry of
        one already seen): only a new one is dispatched.
        """
        if kind not in (Kind.SOS, Kind.FALL) or device_id is None:
            return None, False
        device = await self.store.device(s, device_id)
        if device is None:
            return None, False
        seen = None
        msg_id = usable_msg_id(dead[3])
        if msg_id:
            seen, previous = await self.store.first_sighting(
                s, device_id, msg_id, "unreadable", now
            )
            if seen is None:
                return previous, False
        label = "fall" if kind == Kind.FALL else "SOS"
        report = DeviceReport(
            kind=ReportKind.PRESS,
            device_id=device_id,
            elder_id=device.elder_id,
            incident_kind="fall" if kind == Kind.FALL else "sos",
            summary=printable(f"无法解析的呼救 Unreadable {label} message: {dead[1]}", 300),
            lat=device.last_lat,
            lon=device.last_lon,
        )
        incident = await self.workflow.device_report(s, report, now)
        incident_id = incident.id if incident is not None else None
        self.store.link(seen, incident_id)
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
        dead: DeadItem = (_received(msg), reason, device_id, usable_msg_id(msg_id))
        incident_id, new = None, False
        async with self.db.session(priority=True) as s:
            self.store.add_dead_letters(s, [dead])
            try:
                async with s.begin_nested():
                    incident_id, new = await self._unreadable_press(s, kind, device_id, dead, now)
            except Exception as exc:
                if is_outage(exc):
                    raise
                log.error("unreadable_press_failed", device_id=device_id, error=f"{exc!r}"[:300])
        self._dead_lettered([dead])
        self._count("refused")
        if new and incident_id is not None:
            self.to_dispatch.put_nowait(incident_id)
        broker.ack(msg)
        self._reject(broker, device_id, dead[3], "could not be processed", now, incident_id)

    # ---- dispatch hints --------------------------------------------------------------------

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
        decoded: list[tuple[Received, InboundMessage]] = []
        dead: list[DeadItem] = []
        for msg in batch:
            received = _received(msg)
            try:
                decoded.append(
                    (received, decode(msg.topic, msg.payload, received_at=msg.received_at))
                )
            except ProtocolError as exc:
                dead.append((received, exc.reason, exc.device_id, exc.msg_id))
        # One transaction for the batch and its dead letters: a retry never keeps one twice.
        async with self.db.session() as s:
            if decoded:
                now = decoded[-1][0].received_at
                known = await self.devices.resolve(s, {m.device_id for _, m in decoded}, now)
                registered = []
                for received, m in decoded:
                    if m.device_id in known:
                        registered.append((received, m))
                    else:
                        dead.append((received, "unregistered device", m.device_id, m.msg_id))
                await self.store.write_telemetry(s, registered, known)
                for received, m in registered:
                    if isinstance(m, VitalsReport):
                        await self._check_vitals(s, m, known[m.device_id], received.received_at)
            self.store.add_dead_letters(s, dead)
        self._count("telemetry", len(decoded))
        self._dead_lettered(dead)
        for msg in batch:
            broker.ack(msg)
        for received, reason, device_id, msg_id in dead:
            self._reject(
                broker,
                device_id or peek_device_id(received.topic),
                msg_id,
                reason,
                received.received_at,
            )

    async def _check_vitals(
        self, s: Session, m: VitalsReport, info: DeviceInfo, now: datetime
    ) -> None:
        findings = abnormal_vitals(m, self.thresholds)
        if not findings:
            return
        # The cache may be a minute old: who the device belongs to is read fresh here (rare).
        device = await self.store.device(s, m.device_id)
        report = DeviceReport(
            kind=ReportKind.ABNORMAL_VITALS,
            device_id=m.device_id,
            elder_id=device.elder_id if device else info.elder_id,
            incident_kind="vitals",
            summary=printable("体征异常 Abnormal vitals: " + "; ".join(findings), 300),
            items=tuple(findings),
            lat=device.last_lat if device else None,
            lon=device.last_lon if device else None,
        )
        await self.workflow.device_report(s, report, now)
        self._count("vital_alarms")

    # ---- answers to devices ----------------------------------------------------------------

    def _ack(
        self,
        broker: Broker,
        device_id: str,
        ack_of: str,
        now: datetime,
        result: Literal["accepted", "duplicate", "rejected"],
        incident_id: int | None,
        prompt: str | None,
        reason: str | None = None,
    ) -> None:
        ack = Ack(
            v=1,
            msg_id=uuid.uuid4().hex,
            device_id=device_id,
            ts=now,
            ack_of=ack_of,
            result=result,
            incident_id=incident_id,
            prompt=prompt,
            reason=reason,
        )
        broker.publish(topic_for(device_id, Kind.ACK), encode(ack), qos=1)

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
        ack_of = usable_msg_id(ack_of)
        if device_id is None or _DEVICE_ID.fullmatch(device_id) is None or ack_of is None:
            return
        # An unreadable press still opened an incident: the elder hears that help is arranged.
        prompt = device_prompt("accepted", helper_assigned=False) if incident_id else None
        self._ack(
            broker, device_id, ack_of, now, "rejected", incident_id, prompt, printable(reason, 200)
        )

    def _dead_lettered(self, items: Sequence[DeadItem]) -> None:
        """Log and count dead letters once they are committed."""
        for msg, reason, device_id, msg_id in items:
            log.warning(
                "dead_letter",
                topic=printable(msg.topic, 200),
                device_id=device_id,
                msg_id=printable(msg_id, 64) if msg_id else None,
                reason=printable(reason, 500),
            )
        self._count("dead_letters", len(items))


def _received(msg: Inbound) -> Received:
    return Received(msg.topic, msg.payload, msg.received_at)


def _press_summary(message: SosEvent | FallEvent) -> str:
    # Chinese first, English second: operators, helpers' SMS and the console all show it.
    summary = (
        "一键呼救 SOS button pressed" if isinstance(message, SosEvent) else "跌倒报警 Fall detected"
    )
    if isinstance(message, SosEvent) and message.trigger != "button":
        summary += f" ({printable(message.trigger, 64)})"
    return summary


__all__ = ["Broker", "Inbound", "Ingest", "mark_silent_devices_offline"]
