"""Live mode's devices: one MQTT connection publishing for the whole fleet, as the devices would.

Telemetry (heartbeat, location, vitals on wristbands) goes through a bounded queue drained by a
fixed number of publisher tasks, so at most ``in_flight`` QoS 1 messages are ever unacknowledged:
paho numbers in-flight messages with 16-bit ids and stalls past 65,535 of them. Emergency
events skip that queue (their own lane, as in the server) and are retried with the same msg_id
until the server's ack arrives, as the protocol asks of devices. A share of messages is sent
twice with the same msg_id (QoS 1 redelivery) and a share is malformed (dead-lettered).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import orjson

from device_protocol import (
    FallEvent,
    Heartbeat,
    HeartRate,
    Kind,
    Location,
    LocationReport,
    SosEvent,
    SpO2,
    VitalsReport,
    encode,
    topic_for,
)
from simulator.district import Elder

__all__ = ["Fleet", "FleetStats", "host_port"]

_RETRY_S = 5.0
_RETRIES = 8


def host_port(url: str) -> tuple[str, int]:
    rest = url.split("://", 1)[-1].rsplit("@", 1)[-1]
    host, _, port = rest.rpartition(":")
    return host, int(port or 1883)


def _id() -> str:
    return uuid.uuid4().hex[:20]


@dataclass
class FleetStats:
    telemetry_sent: int = 0
    malformed_sent: int = 0
    duplicates_sent: int = 0
    emergency_sent: int = 0
    emergency_retries: int = 0
    max_in_flight: int = 0
    acks: dict[str, int] = field(default_factory=dict)


class Fleet:
    def __init__(
        self,
        client: aiomqtt.Client,
        elders: tuple[Elder, ...],
        *,
        speed: float,
        rng: random.Random,
        in_flight: int = 200,
        max_rate: float = 500.0,
        malformed_share: float = 0.01,
        duplicate_share: float = 0.02,
    ) -> None:
        self.client, self.elders, self.speed, self.rng = client, elders, speed, rng
        self.ours = {e.device_id for e in elders}
        self.in_flight, self.max_rate = in_flight, max_rate
        self.malformed_share, self.duplicate_share = malformed_share, duplicate_share
        self.queue: asyncio.Queue[tuple[str, bytes, int]] = asyncio.Queue(maxsize=in_flight)
        self.stats = FleetStats()
        self.acks: dict[str, list[dict[str, Any]]] = {}
        self.waiting: dict[str, asyncio.Event] = {}
        self._busy = 0

    async def run(self) -> None:
        """Read acks, publish telemetry; runs until cancelled."""
        await self.client.subscribe("hyt/v1/d/+/ack", qos=1)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._read_acks())
            for _ in range(self.in_flight):
                tg.create_task(self._publisher())
            tg.create_task(self._telemetry())

    async def _read_acks(self) -> None:
        async for message in self.client.messages:
            payload = message.payload
            if not isinstance(payload, bytes | bytearray):
                continue
            ack = orjson.loads(payload)
            if ack.get("device_id") not in self.ours:
                continue  # another run's devices on a shared broker
            result = str(ack.get("result"))
            self.stats.acks[result] = self.stats.acks.get(result, 0) + 1
            key = str(ack.get("ack_of"))
            self.acks.setdefault(key, []).append(ack)
            event = self.waiting.get(key)
            if event is not None:
                event.set()

    async def _publish(self, topic: str, payload: bytes, qos: int) -> None:
        self._busy += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self._busy)
        try:
            await self.client.publish(topic, payload, qos=qos)
        finally:
            self._busy -= 1

    async def _publisher(self) -> None:
        while True:
            topic, payload, qos = await self.queue.get()
            await self._publish(topic, payload, qos)
            self.stats.telemetry_sent += 1

    def _messages(self, e: Elder, now: datetime) -> list[tuple[str, bytes, int]]:
        rng = self.rng
        loc = Location(lat=e.lat, lon=e.lon, acc_m=rng.choice((8.0, 25.0, 150.0)), fix="gnss")
        beat = Heartbeat(
            v=1,
            msg_id=_id(),
            device_id=e.device_id,
            ts=now,
            battery_pct=rng.randint(15, 100),
            charging=rng.random() < 0.1,
            signal_pct=rng.randint(30, 100),
            worn=e.device_model == "wristband",
            interval_s=e.report_interval_s,
        )
        out = [
            (topic_for(e.device_id, Kind.HEARTBEAT), encode(beat), 1),
            (
                topic_for(e.device_id, Kind.LOCATION),
                encode(
                    LocationReport(v=1, msg_id=_id(), device_id=e.device_id, ts=now, location=loc)
                ),
                1,
            ),
        ]
        if e.device_model == "wristband" and rng.random() < 0.3:
            # Normal readings, and now and then a failed one (zero), which must raise nothing.
            failed = rng.random() < 0.1
            vitals = VitalsReport(
                v=1,
                msg_id=_id(),
                device_id=e.device_id,
                ts=now,
                heart_rate=HeartRate(
                    bpm=0 if failed else rng.randint(58, 95),
                    status="failed" if failed else "valid",
                ),
                spo2=SpO2(pct=rng.randint(94, 99), status="valid"),
            )
            out.append((topic_for(e.device_id, Kind.VITALS), encode(vitals), 1))
        if rng.random() < self.malformed_share:
            self.stats.malformed_sent += 1
            out.append((topic_for(e.device_id, Kind.HEARTBEAT), b'{"v":1,"battery_pct":', 1))
        if rng.random() < self.duplicate_share:
            self.stats.duplicates_sent += 1
            out.append(out[0])
        return out

    async def _telemetry(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        # Each device reports every report_interval_s of scenario time, from a random phase.
        due = [(self.rng.uniform(0, e.report_interval_s), i) for i, e in enumerate(self.elders)]
        heapq.heapify(due)
        sent = 0
        while due:
            sim_t, i = heapq.heappop(due)
            # Real time is scenario time / speed, and never faster than max_rate messages a second.
            wait = max(sim_t / self.speed, sent / self.max_rate) - (loop.time() - start)
            if wait > 0:
                await asyncio.sleep(wait)
            e = self.elders[i]
            for item in self._messages(e, datetime.now(UTC)):
                await self.queue.put(item)  # blocks while in_flight messages are unacknowledged
                sent += 1
            heapq.heappush(due, (sim_t + e.report_interval_s, i))

    async def press(
        self, e: Elder, kind: str, *, state: str = "raised", duplicate: bool = False
    ) -> tuple[str, list[dict[str, Any]]]:
        """Send an SOS or fall; retry with the same msg_id until acked. (msg_id, acks seen)."""
        loc = Location(lat=e.lat, lon=e.lon, acc_m=10.0, fix="gnss")
        common: dict[str, Any] = {
            "v": 1,
            "msg_id": _id(),
            "device_id": e.device_id,
            "ts": datetime.now(UTC),
            "state": state,
            "location": loc,
            "battery_pct": self.rng.randint(20, 100),
        }
        msg = FallEvent(**common) if kind == "fall" else SosEvent(**common)
        topic, payload = topic_for(e.device_id, msg.KIND), encode(msg)
        event = self.waiting[msg.msg_id] = asyncio.Event()
        self.stats.emergency_sent += 1
        for attempt in range(_RETRIES):
            if attempt:
                self.stats.emergency_retries += 1
            await self._publish(topic, payload, 1)
            try:
                await asyncio.wait_for(event.wait(), timeout=_RETRY_S)
                break
            except TimeoutError:
                continue
        if duplicate:
            # A redelivery: the server must answer "duplicate" with the same incident.
            self.stats.duplicates_sent += 1
            event.clear()
            await self._publish(topic, payload, 1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=_RETRY_S)
        del self.waiting[msg.msg_id]
        return msg.msg_id, self.acks.get(msg.msg_id, [])
