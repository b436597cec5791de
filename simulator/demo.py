"""The demo's synthetic devices and helpers, driving a running server only through MQTT and HTTP.

Devices come online (with their MQTT Will), send heartbeats and positions, and now and then one
presses SOS — retrying with the same msg_id until the server acknowledges, as real devices do.
Helpers watch for offers, accept (sometimes decline), travel, check in and close the case.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiomqtt
import httpx
import orjson
import structlog

from device_protocol import (
    Heartbeat,
    Kind,
    Location,
    LocationReport,
    SosEvent,
    StatusReport,
    encode,
    topic_for,
)

log = structlog.get_logger("simulator.demo")


def _now() -> datetime:
    return datetime.now(UTC)


def _id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass
class DemoConfig:
    api: str
    mqtt: str
    sos_every_s: float = 20.0
    heartbeat_every_s: float = 30.0
    accept_probability: float = 0.85
    # Demo travel runs faster than life so a whole case fits in a minute or two.
    travel_speedup: float = 20.0
    seed: int = 1


@dataclass
class DemoStats:
    sos_sent: int = 0
    acks: dict[str, int] = field(default_factory=dict)
    accepted: int = 0
    declined: int = 0
    arrived: int = 0
    resolved: int = 0


def _host_port(url: str) -> tuple[str, int]:
    rest = url.split("://", 1)[-1]
    host, _, port = rest.rpartition(":")
    return host, int(port)


class DemoRun:
    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.stats = DemoStats()
        self.acked: dict[str, asyncio.Event] = {}
        self.handled: set[tuple[int, int]] = set()

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.config.api, timeout=10) as http:
            devices = (await http.get("/api/v1/devices")).json()
            if not devices:
                raise SystemExit("the server has no devices: run `huyuan load-demo` first")
            host, port = _host_port(self.config.mqtt)
            async with aiomqtt.Client(host, port, identifier=f"sim-devices-{_id()}") as mqtt:
                await mqtt.subscribe("hyt/v1/d/+/ack", qos=1)
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._read_acks(mqtt))
                    tg.create_task(self._telemetry(mqtt, devices))
                    tg.create_task(self._presses(mqtt, devices))
                    tg.create_task(self._helpers(http))

    async def _read_acks(self, mqtt: aiomqtt.Client) -> None:
        async for message in mqtt.messages:
            ack = (
                orjson.loads(bytes(message.payload))
                if isinstance(message.payload, bytes | bytearray)
                else {}
            )
            result = str(ack.get("result"))
            self.stats.acks[result] = self.stats.acks.get(result, 0) + 1
            event = self.acked.get(str(ack.get("ack_of")))
            if event is not None:
                event.set()
            log.info(
                "device_got_ack",
                device_id=ack.get("device_id"),
                result=result,
                incident_id=ack.get("incident_id"),
                prompt=ack.get("prompt"),
            )

    def _location(self, device: dict[str, Any]) -> Location | None:
        if device.get("last_lat") is None:
            return None
        return Location(lat=device["last_lat"], lon=device["last_lon"], acc_m=15, fix="gnss")

    async def _telemetry(self, mqtt: aiomqtt.Client, devices: list[dict[str, Any]]) -> None:
        elders = {}
        async with httpx.AsyncClient(base_url=self.config.api, timeout=10) as http:
            for elder in (await http.get("/api/v1/elders")).json():
                elders[elder["id"]] = elder
        for device in devices:
            elder = elders.get(device["elder_id"])
            if elder and device.get("last_lat") is None:
                device["last_lat"], device["last_lon"] = elder["home_lat"], elder["home_lon"]
            status = StatusReport(
                v=1, msg_id=_id(), device_id=device["device_id"], ts=_now(), state="online"
            )
            await mqtt.publish(
                topic_for(device["device_id"], Kind.STATUS), encode(status), qos=1, retain=True
            )
        while True:
            for device in devices:
                did = device["device_id"]
                beat = Heartbeat(
                    v=1,
                    msg_id=_id(),
                    device_id=did,
                    ts=_now(),
                    battery_pct=self.rng.randint(20, 100),
                    charging=False,
                    signal_pct=self.rng.randint(40, 100),
                    worn=True,
                    interval_s=int(self.config.heartbeat_every_s),
                )
                await mqtt.publish(topic_for(did, Kind.HEARTBEAT), encode(beat), qos=1)
                loc = self._location(device)
                if loc is not None:
                    report = LocationReport(
                        v=1, msg_id=_id(), device_id=did, ts=_now(), location=loc
                    )
                    await mqtt.publish(topic_for(did, Kind.LOCATION), encode(report), qos=0)
            await asyncio.sleep(self.config.heartbeat_every_s)

    async def _presses(self, mqtt: aiomqtt.Client, devices: list[dict[str, Any]]) -> None:
        await asyncio.sleep(3)
        while True:
            device = self.rng.choice(devices)
            sos = SosEvent(
                v=1,
                msg_id=_id(),
                device_id=device["device_id"],
                ts=_now(),
                state="raised",
                trigger="button",
                location=self._location(device),
                battery_pct=self.rng.randint(20, 100),
            )
            self.acked[sos.msg_id] = asyncio.Event()
            self.stats.sos_sent += 1
            log.info("device_pressed_sos", device_id=sos.device_id, msg_id=sos.msg_id)
            for _attempt in range(5):  # same msg_id on every retry, as the protocol demands
                await mqtt.publish(topic_for(sos.device_id, Kind.SOS), encode(sos), qos=1)
                try:
                    await asyncio.wait_for(self.acked[sos.msg_id].wait(), timeout=5)
                    break
                except TimeoutError:
                    log.warning("device_retrying_sos", device_id=sos.device_id, msg_id=sos.msg_id)
            await asyncio.sleep(self.rng.expovariate(1 / self.config.sos_every_s))

    async def _helpers(self, http: httpx.AsyncClient) -> None:
        async with asyncio.TaskGroup() as tg:
            while True:
                incidents = (await http.get("/api/v1/incidents")).json()
                for incident in incidents:
                    detail = (await http.get(f"/api/v1/incidents/{incident['id']}")).json()
                    for offer in detail["offers"]:
                        key = (incident["id"], offer["id"])
                        if offer["status"] == "pending" and key not in self.handled:
                            self.handled.add(key)
                            tg.create_task(self._helper_case(http, incident, offer))
                await asyncio.sleep(1.0)

    async def _helper_case(
        self, http: httpx.AsyncClient, incident: dict[str, Any], offer: dict[str, Any]
    ) -> None:
        iid, hid = incident["id"], offer["helper_id"]
        await asyncio.sleep(self.rng.uniform(2, 6))
        if self.rng.random() > self.config.accept_probability:
            await http.post(f"/api/v1/incidents/{iid}/decline", json={"helper_id": hid})
            self.stats.declined += 1
            return
        r = await http.post(f"/api/v1/incidents/{iid}/accept", json={"helper_id": hid})
        if r.status_code != 200:
            return
        self.stats.accepted += 1
        await asyncio.sleep(offer["eta_s"] / self.config.travel_speedup)
        r = await http.post(f"/api/v1/incidents/{iid}/arrived", json={"helper_id": hid})
        if r.status_code == 200:
            self.stats.arrived += 1
        await asyncio.sleep(self.rng.uniform(5, 15))
        r = await http.post(
            f"/api/v1/incidents/{iid}/resolve",
            json={"helper_id": hid, "outcome": "已上门处置 / handled on site"},
        )
        if r.status_code == 200:
            self.stats.resolved += 1
        log.info("helper_closed_case", incident_id=iid, helper_id=hid, stats=self.stats)
