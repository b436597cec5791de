"""A fleet of test devices on a real broker: publish at a pace, hear the server's acks, register.

Used by the integration tests that drive a real ``Server`` (database outage, fuzz) and by
``bench/poison_fuzz.py``. Every run uses its own device ids, so runs sharing a broker never hear
each other.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from dispatcher.mqtt import BrokerEndpoint


def fleet(prefix: str, n: int) -> list[str]:
    """``n`` device ids unique to this run (``prefix`` + a random tag + a number)."""
    tag = uuid.uuid4().hex[:6]
    return [f"{prefix}{tag}{i:04d}" for i in range(n)]


def district_csv(devices: Sequence[str]) -> dict[str, str]:
    """Elders around Longhu (one per device), their devices, and helpers on duty nearby."""
    elders = ["ref,name,address,lat,lon"] + [
        f"E{d},长者{i},汕头市龙湖区,{23.36 + (i % 20) * 0.001},{116.69 + (i // 20) * 0.001}"
        for i, d in enumerate(devices)
    ]
    rows = ["device_id,elder_ref,model,report_interval_s"] + [
        f"{d},E{d},wristband,600" for d in devices
    ]
    helpers = ["ref,name,phone,travel_mode,on_duty,lat,lon"] + [
        f"H{devices[0]}{i},助手{i},+86137{i:08d},ebike,true,{23.36 + i * 0.002},116.70"
        for i in range(max(3, len(devices) // 4))
    ]
    return {"elders": "\n".join(elders), "devices": "\n".join(rows), "helpers": "\n".join(helpers)}


def register(api: str, devices: Sequence[str], token: str | None = None) -> None:
    """Import the district for ``devices`` over the REST API (as an operator would)."""
    headers = {"content-type": "text/csv"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=api, timeout=60) as http:
        for kind, body in district_csv(devices).items():
            http.post(f"/api/v1/import/{kind}", content=body, headers=headers).raise_for_status()


@dataclass
class Acks:
    """The server's acks to our devices, by the msg_id they acknowledge."""

    devices: frozenset[str]
    by_msg: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    def add(self, topic: str, payload: bytes) -> None:
        if topic.split("/")[3] not in self.devices:
            return
        try:
            ack = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        with self.arrived:
            self.by_msg.setdefault(str(ack.get("ack_of")), []).append(ack)
            self.arrived.notify_all()

    def wait_for(self, msg_id: str, timeout_s: float) -> dict[str, Any] | None:
        with self.arrived:
            self.arrived.wait_for(lambda: msg_id in self.by_msg, timeout=timeout_s)
            acks = self.by_msg.get(msg_id)
            return acks[0] if acks else None


class Fleet:
    """One MQTT connection speaking for many devices: publish QoS 1, hear every ack."""

    def __init__(self, url: str, devices: Sequence[str]) -> None:
        self.acks = Acks(frozenset(devices))
        ep = BrokerEndpoint.parse(url)
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"fleet-{uuid.uuid4().hex[:10]}",
            protocol=paho.MQTTv5,
        )
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        if ep.username is not None:
            self.client.username_pw_set(ep.username, ep.password)
        subscribed = threading.Event()
        self.client.on_message = lambda _c, _u, m: self.acks.add(m.topic, bytes(m.payload))
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(ep.host, ep.port)
        self.client.loop_start()
        self.client.subscribe("hyt/v1/d/+/ack", qos=1)
        if not subscribed.wait(10):
            raise RuntimeError("the test fleet could not subscribe to acks")

    def publish(
        self,
        messages: Sequence[tuple[str, bytes]],
        *,
        rate: float | None = None,
        pace: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Publish at QoS 1, waiting for the broker's PUBACKs; returns how many were published.

        ``rate`` caps messages per second; ``pace(n)`` is called before the n-th message (a test
        uses it to keep the server's backlog inside the broker's queue limits).
        """
        start = time.perf_counter()
        infos = []
        for n, (topic, payload) in enumerate(messages):
            if stop is not None and stop.is_set():
                break
            if pace is not None:
                pace(n)
            infos.append(self.client.publish(topic, payload, qos=1))
            if rate:
                ahead = (n + 1) / rate - (time.perf_counter() - start)
                if ahead > 0:
                    time.sleep(ahead)
            if n % 100 == 99:
                infos[-1].wait_for_publish(60)
        for info in infos:
            info.wait_for_publish(60)
        return len(infos)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.client._reset_sockets()  # close paho's socketpair now, not at garbage collection
