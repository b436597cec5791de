"""MqttIngestClient against a real broker: delivery, readiness, redelivery, sessions, sharing,
and reconnecting by itself when the connection breaks (through tcp_proxy.TcpProxy)."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dispatcher.mqtt import (
    EmbeddedBroker,
    MqttConnectError,
    MqttError,
    MqttIngestClient,
    MqttPublishError,
    MqttSubscribeError,
)
from dispatcher.mqtt.broker import find_mosquitto
from dispatcher.mqtt.inbound import Inbound
from tests.dispatcher.mqtt.scripted_broker import scripted_broker
from tests.dispatcher.mqtt.support import (
    BrokerUnderTest,
    collect,
    nothing_more,
    publish,
)
from tests.dispatcher.mqtt.tcp_proxy import TcpProxy
from tests.support.services import service_missing

REPO = Path(__file__).resolve().parents[3]
FAST_RECONNECT: dict[str, Any] = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2}


def _sos(device: str, n: int) -> tuple[str, bytes]:
    return f"hyt/v1/d/{device}/evt/sos", f'{{"msg_id": "m{n}"}}'.encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(params=[False, True], ids=["paho-public", "fast-path"])
def fast_path(request: pytest.FixtureRequest) -> bool:
    """Both receive paths: paho's public one and the kept PUBLISH decoder (paho_client.py)."""
    value: bool = request.param
    return value


@pytest.fixture
async def proxy(mqtt_broker: BrokerUnderTest) -> AsyncIterator[TcpProxy]:
    """A TCP proxy in front of the broker, to cut the client's connection on purpose."""
    async with TcpProxy(mqtt_broker.url) as running:
        yield running


def _needs_redelivery(mqtt_broker: BrokerUnderTest) -> None:
    if not mqtt_broker.supports_v5:
        pytest.skip("amqtt drops unacknowledged messages instead of redelivering them")


async def test_delivers_a_qos1_message_with_an_aware_receive_time(
    mqtt_broker: BrokerUnderTest, device: str, fast_path: bool
) -> None:
    """A QoS 1 message published by a device comes out of next_batch, stamped in UTC on arrival."""
    async with mqtt_broker.client(device, fast_path=fast_path) as client:
        assert client.fast_path is fast_path
        before = datetime.now(UTC)
        await publish(mqtt_broker.url, [_sos(device, 1)])
        [msg] = await client.next_batch(10, 0.05)
        client.ack(msg)
    assert (msg.topic, msg.payload, msg.qos) == (*_sos(device, 1), 1)
    assert msg.received_at.tzinfo is not None
    assert before <= msg.received_at <= datetime.now(UTC)


async def test_ready_only_while_connected_and_subscribed(
    mqtt_broker: BrokerUnderTest, device: str
) -> None:
    """ready is False before the SUBACK, True inside the block and False after it."""
    client = mqtt_broker.client(device)
    assert not client.ready
    async with client:
        assert client.ready
        assert client.subscriptions == (f"hyt/v1/d/{device}/evt/+",)
    assert not client.ready


async def test_closing_releases_a_waiting_next_batch(
    mqtt_broker: BrokerUnderTest, device: str
) -> None:
    """A consumer blocked in next_batch gets MqttError when the client closes, never hangs."""
    async with mqtt_broker.client(device) as client:
        waiting = asyncio.create_task(client.next_batch(10, 0))
        await asyncio.sleep(0.05)
    with pytest.raises(MqttError, match="closed"):
        await waiting


async def test_next_batch_gathers_up_to_max_items_within_the_wait(
    mqtt_broker: BrokerUnderTest, device: str, fast_path: bool
) -> None:
    """One call returns as many messages as arrived in the window, never more than max_items."""
    async with mqtt_broker.client(device, fast_path=fast_path) as client:
        await publish(mqtt_broker.url, [_sos(device, n) for n in range(25)])
        first = await client.next_batch(10, 0.5)
        rest = await collect(client, 15)
        for msg in first + rest:
            client.ack(msg)
    assert len(first) == 10
    assert [m.payload for m in first + rest] == [_sos(device, n)[1] for n in range(25)]


async def test_unacked_messages_are_redelivered_after_the_process_dies(
    mqtt_broker: BrokerUnderTest, device: str
) -> None:
    """After SIGKILL, the same client id gets back exactly the messages it had not acked."""
    if not mqtt_broker.supports_v5:
        pytest.skip("amqtt drops unacknowledged messages instead of redelivering them")
    client_id = f"test-{uuid.uuid4().hex[:12]}"
    consumer = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "tests.dispatcher.mqtt.doomed_consumer"),
        *(mqtt_broker.url, client_id, device, "5", "2"),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    assert consumer.stdout is not None
    try:
        async with asyncio.timeout(20):
            await _line(consumer.stdout, b"ready\n")
            await publish(mqtt_broker.url, [_sos(device, n) for n in range(5)])
            await _line(consumer.stdout, b"acked\n")
    finally:
        consumer.send_signal(signal.SIGKILL)  # no DISCONNECT, no cleanup: a crash
        await consumer.communicate()
    async with mqtt_broker.client(device, client_id=client_id) as client:
        again = await collect(client, 4)
        late = await nothing_more(client)
        for msg in again + late:
            client.ack(msg)
        assert client.session_present
    redelivered = sorted(m.payload for m in again + late if not m.topic.endswith("/sync"))
    assert redelivered == [_sos(device, n)[1] for n in (2, 3, 4)]
    assert all(m.dup for m in again if not m.topic.endswith("/sync"))


async def _line(stream: asyncio.StreamReader, wanted: bytes) -> None:
    """Read until the line ``wanted``, skipping log lines; fail at end of stream."""
    while (line := await stream.readline()) != wanted:
        assert line, f"the consumer exited before printing {wanted!r}"


async def test_messages_published_while_away_arrive_on_reconnect(
    mqtt_broker: BrokerUnderTest, device: str
) -> None:
    """The broker keeps the session: what devices send while the server is down comes later."""
    client_id = f"test-{uuid.uuid4().hex[:12]}"
    async with mqtt_broker.client(device, client_id=client_id):
        pass
    await publish(mqtt_broker.url, [_sos(device, n) for n in range(3)])
    async with mqtt_broker.client(device, client_id=client_id) as client:
        got = await collect(client, 3)
        for msg in got:
            client.ack(msg)
        assert client.session_present
    assert [m.payload for m in got] == [_sos(device, n)[1] for n in range(3)]


async def test_acked_messages_are_not_delivered_again(
    mqtt_broker: BrokerUnderTest, device: str
) -> None:
    """A message acked before a clean close does not come back on the next connection."""
    client_id = f"test-{uuid.uuid4().hex[:12]}"
    async with mqtt_broker.client(device, client_id=client_id) as client:
        await publish(mqtt_broker.url, [_sos(device, 1)])
        for msg in await collect(client, 1):
            client.ack(msg)
    async with mqtt_broker.client(device, client_id=client_id) as client:
        assert await nothing_more(client) == []


async def test_shared_subscription_gives_each_message_to_one_member(
    mqtt_broker: BrokerUnderTest, device: str
) -> None:
    """Two servers in one group split the messages: each exactly once, both get some."""
    mqtt_broker.require_shared()
    group = f"g{uuid.uuid4().hex[:8]}"
    async with (
        mqtt_broker.client(device, shared_group=group) as one,
        mqtt_broker.client(device, shared_group=group) as two,
    ):
        assert one.subscriptions == (f"$share/{group}/hyt/v1/d/{device}/evt/+",)
        await publish(mqtt_broker.url, [_sos(device, n) for n in range(20)])
        got_one, got_two = await asyncio.gather(collect(one, 10, 2), collect(two, 10, 2))
        for client, got in ((one, got_one), (two, got_two)):
            for msg in got:
                client.ack(msg)
    payloads = [m.payload for m in got_one + got_two]
    assert sorted(payloads) == sorted(_sos(device, n)[1] for n in range(20))
    assert got_one and got_two


async def test_an_absent_group_member_keeps_its_share_until_it_returns(
    mqtt_broker: BrokerUnderTest, device: str
) -> None:
    """Mosquitto still routes to a disconnected member's session: its share waits for it."""
    mqtt_broker.require_shared()
    group = f"g{uuid.uuid4().hex[:8]}"
    away_id = f"test-{uuid.uuid4().hex[:12]}"
    async with mqtt_broker.client(device, shared_group=group, client_id=away_id):
        pass
    async with mqtt_broker.client(device, shared_group=group) as present:
        await publish(mqtt_broker.url, [_sos(device, n) for n in range(10)])
        got_present = await collect(present, 10, 1)
        for msg in got_present:
            present.ack(msg)
    async with mqtt_broker.client(device, shared_group=group, client_id=away_id) as back:
        got_back = await collect(back, 10 - len(got_present), 2)
        for msg in got_back:
            back.ack(msg)
    assert 0 < len(got_present) < 10
    assert sorted(m.payload for m in got_present + got_back) == sorted(
        _sos(device, n)[1] for n in range(10)
    )


async def test_publish_reaches_a_subscriber(mqtt_broker: BrokerUnderTest, device: str) -> None:
    """publish() sends a QoS 1 message to the broker (here back to ourselves)."""
    async with mqtt_broker.client(device) as client:
        client.publish(f"hyt/v1/d/{device}/evt/loop", b"hello", qos=1)
        [msg] = await collect(client, 1)
        client.ack(msg)
    assert (msg.topic, msg.payload) == (f"hyt/v1/d/{device}/evt/loop", b"hello")


async def test_publish_refuses_a_wildcard_topic_or_a_closed_client(
    mqtt_broker: BrokerUnderTest, device: str
) -> None:
    """A topic with a wildcard, or a client not open, raises MqttPublishError."""
    client = mqtt_broker.client(device)
    with pytest.raises(MqttPublishError):
        client.publish(f"hyt/v1/d/{device}/ack", b"{}")
    async with client:
        with pytest.raises(MqttPublishError):
            client.publish("hyt/v1/d/+/ack", b"{}")


async def test_connecting_to_a_closed_port_fails_fast() -> None:
    """Nothing listening: MqttConnectError within a second, not a hang."""
    started = time.monotonic()
    client = MqttIngestClient(
        f"mqtt://127.0.0.1:{_free_port()}", client_id="test-closed", filters=["hyt/v1/d/+/evt/+"]
    )
    with pytest.raises(MqttConnectError, match="cannot connect"):
        async with client:
            pass
    assert time.monotonic() - started < 1
    assert not client.ready


@pytest.mark.parametrize(
    ("script", "error", "message"),
    [
        ({"connack_reason": 0x87}, MqttConnectError, "refused the connection: Not authorized"),
        ({"connack_reason": None}, MqttConnectError, "no CONNACK"),
        ({"suback_reasons": b"\x01\x87"}, MqttSubscribeError, "cmd/req.*Not authorized"),
        ({"suback_reasons": b"\x01\x00"}, MqttSubscribeError, "cmd/req.*Granted QoS 0"),
        ({"suback_reasons": None}, MqttSubscribeError, "no SUBACK"),
    ],
)
async def test_refusals_and_silences_become_adapter_errors(
    script: dict[str, Any], error: type[Exception], message: str
) -> None:
    """A refused or unanswered CONNECT or SUBSCRIBE raises the adapter's own error, never hangs."""
    async with scripted_broker(**script) as url:
        client = MqttIngestClient(
            url,
            client_id="test-scripted",
            filters=["hyt/v1/d/+/evt/+", "hyt/v1/d/+/cmd/req"],
            shared_group=None,
            connect_timeout_s=0.5,
        )
        with pytest.raises(error, match=message):
            async with client:
                pass
        assert not client.ready


async def test_reconnects_resubscribes_and_gets_redeliveries_after_a_broker_restart(
    tmp_path: Path, device: str
) -> None:
    """The broker restarts: the client comes back by itself, ready again, in the same session."""
    if find_mosquitto() is None:
        service_missing("the mosquitto binary")
    port = _free_port()
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(EmbeddedBroker(data_dir=tmp_path, port=port))
        client = await stack.enter_async_context(
            BrokerUnderTest(first.url).client(device, session_expiry_s=300)
        )
        await publish(first.url, [_sos(device, 1)])
        [unacked] = await collect(client, 1)
        await first.__aexit__(None, None, None)  # SIGTERM: mosquitto saves its sessions
        await _until(lambda: not client.ready)
        second = await stack.enter_async_context(EmbeddedBroker(data_dir=tmp_path, port=port))
        await _until(lambda: client.ready, within_s=15)
        assert client.session_present
        again = await collect(client, 1)
        await publish(second.url, [_sos(device, 2)])
        fresh = await collect(client, 1)
        for msg in [unacked, *again, *fresh]:
            client.ack(msg)  # the first one is a no-op: its connection is gone
    assert [m.payload for m in again] == [unacked.payload]
    assert again[0].dup and again[0].connection != unacked.connection
    assert [m.payload for m in fresh] == [_sos(device, 2)[1]]


async def _until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def _drain(client: MqttIngestClient) -> list[Inbound]:
    """Everything that arrives until a quiet half second, all acknowledged."""
    got = await nothing_more(client)
    while got and (more := await nothing_more(client)):
        got += more
    for msg in got:
        client.ack(msg)
    return got


async def _synced(client: MqttIngestClient, device: str) -> list[Inbound]:
    """Publish to ourselves and wait for it: the broker has handled every earlier PUBACK."""
    client.publish(f"hyt/v1/d/{device}/evt/sync", uuid.uuid4().bytes, qos=1)
    got = await collect(client, 1)
    assert [m.topic for m in got] == [f"hyt/v1/d/{device}/evt/sync"]
    for msg in got:
        client.ack(msg)
    return got


def _presses(messages: list[Inbound]) -> list[Inbound]:
    """The SOS messages, without the loop-back syncs (which may come twice around a cut)."""
    return [m for m in messages if m.topic.endswith("/evt/sos")]


async def _cut_and_rejoin(proxy: TcpProxy, client: MqttIngestClient) -> None:
    """Reset the client's connection; wait until it noticed and is back, ready."""
    proxy.cut()
    await _until(lambda: not client.ready)
    await _until(lambda: client.ready)


async def test_unacked_messages_are_redelivered_after_a_reconnect(
    mqtt_broker: BrokerUnderTest, proxy: TcpProxy, device: str, fast_path: bool
) -> None:
    """The connection breaks: what was acked stays acked, the rest comes again, flagged dup."""
    _needs_redelivery(mqtt_broker)
    options: dict[str, Any] = {"via": proxy.url, "fast_path": fast_path, **FAST_RECONNECT}
    async with mqtt_broker.client(device, **options) as client:
        await publish(mqtt_broker.url, [_sos(device, n) for n in range(4)])
        first = await collect(client, 4)
        for msg in first[:2]:
            client.ack(msg)
        await _synced(client, device)
        await _cut_and_rejoin(proxy, client)
        again = await collect(client, 2)
        again += await nothing_more(client)
        for msg in again:
            client.ack(msg)
        assert client.session_present
    assert [m.payload for m in first] == [_sos(device, n)[1] for n in range(4)]
    assert [m.payload for m in _presses(again)] == [_sos(device, n)[1] for n in (2, 3)]
    assert all(m.dup and m.connection != first[0].connection for m in _presses(again))


async def test_nothing_is_acknowledged_until_ack_is_called(
    mqtt_broker: BrokerUnderTest, proxy: TcpProxy, device: str
) -> None:
    """Taking messages from next_batch acknowledges nothing: all of them come back after a break."""
    _needs_redelivery(mqtt_broker)
    async with mqtt_broker.client(device, via=proxy.url, **FAST_RECONNECT) as client:
        await publish(mqtt_broker.url, [_sos(device, n) for n in range(5)])
        taken = await collect(client, 5)
        await _synced(client, device)  # the loop-back is acked; the five are not
        await _cut_and_rejoin(proxy, client)
        again = await collect(client, 5)
        again += await nothing_more(client)
        for msg in again:
            client.ack(msg)
    assert len(taken) == 5
    assert sorted(m.payload for m in _presses(again)) == sorted(m.payload for m in taken)


async def test_an_ack_from_an_earlier_connection_acknowledges_nothing(
    mqtt_broker: BrokerUnderTest, proxy: TcpProxy, device: str
) -> None:
    """Acking the old copy after a reconnect is a no-op: the redelivered copy is still pending."""
    _needs_redelivery(mqtt_broker)
    async with mqtt_broker.client(device, via=proxy.url, **FAST_RECONNECT) as client:
        await publish(mqtt_broker.url, [_sos(device, 1)])
        [old] = await collect(client, 1)
        await _cut_and_rejoin(proxy, client)
        [copy] = await collect(client, 1)
        client.ack(old)  # its packet id may now name another message: it must not be sent
        await _synced(client, device)
        await _cut_and_rejoin(proxy, client)
        [third] = _presses(await _drain(client))
        client.ack(third)
        await _synced(client, device)
        await _cut_and_rejoin(proxy, client)
        assert _presses(await _drain(client)) == []
    assert old.payload == copy.payload == third.payload
    assert len({old.connection, copy.connection, third.connection}) == 3


async def test_reconnects_by_itself_and_is_not_ready_while_disconnected(
    mqtt_broker: BrokerUnderTest, proxy: TcpProxy, device: str
) -> None:
    """While the broker is unreachable ready stays False; when it is back, so is ingest."""
    async with mqtt_broker.client(device, via=proxy.url, **FAST_RECONNECT) as client:
        proxy.mode = "refuse"
        proxy.cut()
        await _until(lambda: not client.ready)
        attempts = proxy.accepted
        await _until(lambda: proxy.accepted >= attempts + 3)  # it keeps trying, with backoff
        assert not client.ready
        proxy.mode = "forward"
        await _until(lambda: client.ready)
        await publish(mqtt_broker.url, [_sos(device, 1)])
        got = await collect(client, 1)
        for msg in got:
            client.ack(msg)
    assert [m.payload for m in got] == [_sos(device, 1)[1]]


async def test_a_connect_without_connack_is_dropped_and_retried(
    mqtt_broker: BrokerUnderTest, proxy: TcpProxy, device: str
) -> None:
    """A reconnect that gets no CONNACK within connect_timeout_s is abandoned and tried again."""
    options: dict[str, Any] = {"via": proxy.url, "connect_timeout_s": 0.3, **FAST_RECONNECT}
    async with mqtt_broker.client(device, **options) as client:
        proxy.mode = "stall"
        proxy.cut()
        await _until(lambda: not client.ready)
        attempts = proxy.accepted
        await _until(lambda: proxy.accepted >= attempts + 2)
        assert not client.ready
        proxy.mode = "forward"
        await _until(lambda: client.ready)


async def test_publishes_made_while_disconnected_are_sent_after_the_reconnect(
    mqtt_broker: BrokerUnderTest, proxy: TcpProxy, device: str
) -> None:
    """A QoS 1 publish (a device ack) made during an outage leaves once the connection is back."""
    async with mqtt_broker.client(device, via=proxy.url, **FAST_RECONNECT) as client:
        proxy.mode = "refuse"
        proxy.cut()
        await _until(lambda: not client.ready)
        client.publish(f"hyt/v1/d/{device}/evt/loop", b"during the outage", qos=1)
        proxy.mode = "forward"
        await _until(lambda: client.ready)
        got = await collect(client, 1)
        for msg in got:
            client.ack(msg)
    assert [m.payload for m in got] == [b"during the outage"]


async def test_closing_while_the_broker_is_unreachable_is_prompt(
    mqtt_broker: BrokerUnderTest, proxy: TcpProxy, device: str
) -> None:
    """Shutting down during an outage (the reconnect loop running) takes well under a second."""
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            mqtt_broker.client(device, via=proxy.url, **FAST_RECONNECT)
        )
        proxy.mode = "refuse"
        proxy.cut()
        await _until(lambda: not client.ready)
        started = time.monotonic()
    assert time.monotonic() - started < 1
    with pytest.raises(MqttError, match="closed"):
        await client.next_batch(1, 0)


async def test_runs_paho_on_the_event_loop_without_a_network_thread(
    mqtt_broker: BrokerUnderTest, device: str
) -> None:
    """An open client adds no thread: paho's callbacks run on the event loop's own thread."""
    before = {t.ident for t in threading.enumerate()}
    async with mqtt_broker.client(device) as client:
        await asyncio.sleep(0.1)
        running = {t.ident for t in threading.enumerate() if t.is_alive()}
        await publish(mqtt_broker.url, [_sos(device, 1)])
        for msg in await collect(client, 1):
            client.ack(msg)
    # The connect runs in the loop's default executor, whose idle worker may linger; no other.
    extra = [t for t in threading.enumerate() if t.ident in running - before]
    assert all(t.name.startswith("asyncio_") for t in extra), extra


@pytest.mark.parametrize(
    "filters",
    [[], ["a/#/b"], ["a/b+"], [""]],
)
def test_rejects_bad_filters(filters: list[str]) -> None:
    """An empty filter list or a malformed filter is refused when the client is built."""
    with pytest.raises(ValueError, match="filter"):
        MqttIngestClient("mqtt://127.0.0.1:1883", client_id="x", filters=filters)


def test_receive_maximum_cannot_exceed_the_buffer() -> None:
    """The broker's in-flight window must fit in the buffer that bounds QoS 1 messages."""
    with pytest.raises(ValueError, match="receive_maximum"):
        MqttIngestClient(
            "mqtt://127.0.0.1:1883",
            client_id="x",
            filters=["a/b"],
            max_buffer=100,
            receive_maximum=1000,
        )
