"""Helpers for the MQTT adapter tests: the broker under test, a plain paho publisher, collecting."""

from __future__ import annotations

import asyncio
import select
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from dispatcher.mqtt import BrokerEndpoint, Inbound, MqttIngestClient
from tests.support.services import service_missing

SESSION_EXPIRY_S = 120  # short, so test sessions do not pile up in a shared broker


@dataclass(frozen=True)
class BrokerUnderTest:
    """A reachable broker and what it supports."""

    url: str
    supports_v5: bool = True
    supports_shared: bool = True

    def require_shared(self) -> None:
        """Skip (fail under CI) on a broker without shared subscriptions."""
        if not self.supports_shared:
            service_missing("an MQTT broker with shared subscriptions (mosquitto)")

    def client(
        self,
        device: str,
        *,
        client_id: str | None = None,
        filters: list[str] | None = None,
        via: str | None = None,
        **options: Any,
    ) -> MqttIngestClient:
        """An ingest client on this device's events (through ``via``, a proxy, if given)."""
        options.setdefault("shared_group", None)
        options.setdefault("session_expiry_s", SESSION_EXPIRY_S)
        options.setdefault("protocol_v5", self.supports_v5)
        options.setdefault("connect_timeout_s", 5.0)
        return MqttIngestClient(
            via or self.url,
            client_id=client_id or f"test-{uuid.uuid4().hex[:12]}",
            filters=filters or [f"hyt/v1/d/{device}/evt/+"],
            **options,
        )


def _publish_sync(url: str, messages: list[tuple[str, bytes]], qos: int) -> None:
    """A device: one plain paho client, its socket driven by ``select`` (no network thread)."""
    ep = BrokerEndpoint.parse(url)
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:12]}")
    client.on_publish = on_publish
    if ep.username is not None:
        client.username_pw_set(ep.username, ep.password)
    client.connect(ep.host, ep.port)
    deadline = time.monotonic() + 10
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=qos)
        while acked < len(messages):
            if time.monotonic() > deadline:
                raise AssertionError(f"only {acked} of {len(messages)} publishes acknowledged")
            sock = client.socket()
            assert sock is not None, "the test publisher lost its connection"
            writing = [sock] if client.want_write() else []
            readable, writable, _ = select.select([sock], writing, [], 0.1)
            if readable:
                client.loop_read()
            if writable:
                client.loop_write()
            client.loop_misc()
    finally:
        client.disconnect()  # without a network loop paho writes the DISCONNECT and closes here


async def publish(url: str, messages: Iterable[tuple[str, bytes]], qos: int = 1) -> None:
    """Publish with a separate, plain paho client (as a device would) and wait for the acks."""
    await asyncio.to_thread(_publish_sync, url, list(messages), qos)


async def collect(client: MqttIngestClient, count: int, within_s: float = 5.0) -> list[Inbound]:
    """Take batches until ``count`` messages arrived, or ``within_s`` passed."""
    got: list[Inbound] = []
    try:
        async with asyncio.timeout(within_s):
            while len(got) < count:
                got += await client.next_batch(100, 0.01)
    except TimeoutError:
        pass
    return got


async def nothing_more(client: MqttIngestClient, within_s: float = 0.5) -> list[Inbound]:
    """Whatever arrives within ``within_s`` (expected: nothing)."""
    return await collect(client, 1, within_s)
