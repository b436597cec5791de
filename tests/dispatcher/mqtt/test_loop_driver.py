"""LoopDriver: paho's socket on the event loop, with a paho Client whose public I/O is scripted.

The real round trip (connect, read, write, keepalive) runs against a broker in
test_ingest_client.py; here each rule of the glue is pinned on its own.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from dispatcher.mqtt.loop_driver import READS_PER_WAKE, LoopDriver

OK, NO_CONN = MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN


class ScriptedClient(paho.Client):
    """A paho Client whose socket and public loop_* calls are ours to script and count."""

    def __init__(self, sock: socket.socket | None) -> None:
        super().__init__(CallbackAPIVersion.VERSION2)
        self.sock = sock
        self.delivered = 0
        self.packets: list[str] = []  # what each loop_read takes in: "msg", "other", "end"
        self.reads = self.writes = self.misc = 0
        self.queued = False  # what want_write() says
        self.fail_with: Exception | None = None

    def socket(self) -> socket.socket | None:
        return self.sock

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        self.reads += 1
        if self.fail_with is not None:
            raise self.fail_with
        packet = self.packets.pop(0) if self.packets else "drained"
        if packet == "msg":
            self.delivered += 1
        if packet == "end":
            self.sock = None
            return NO_CONN
        return OK

    def loop_write(self) -> MQTTErrorCode:
        self.writes += 1
        self.queued = False
        return OK

    def want_write(self) -> bool:
        return self.queued

    def loop_misc(self) -> MQTTErrorCode:
        self.misc += 1
        return OK


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair of sockets: ours (watched) and the peer, closed after the test."""
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    try:
        yield ours, peer
    finally:
        ours.close()
        peer.close()


def _driver(
    client: ScriptedClient, unread: list[int] | None = None
) -> tuple[LoopDriver, list[BaseException], list[str]]:
    faults: list[BaseException] = []
    events: list[str] = []
    driver = LoopDriver(
        client,
        asyncio.get_running_loop(),
        delivered=lambda: client.delivered,
        on_fault=faults.append,
        on_closed=lambda: events.append("closed"),
        unread=(lambda: unread.pop(0) if unread else 0),
    )
    return driver, faults, events


async def test_reads_while_messages_keep_coming_then_waits_for_the_selector(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """One readable event takes in every message already there; the first quiet read ends it."""
    client = ScriptedClient(pair[0])
    client.packets = ["msg"] * 5 + ["other", "msg"]
    driver, faults, _ = _driver(client)
    driver.read()
    assert (client.delivered, client.reads) == (5, 6)  # the PINGRESP-like packet ends the round
    driver.read()
    assert client.delivered == 6
    assert faults == []


async def test_yields_to_other_tasks_after_a_bounded_number_of_packets(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A flood is read READS_PER_WAKE packets per event, so the emergency lane gets its turn."""
    client = ScriptedClient(pair[0])
    client.packets = ["msg"] * (READS_PER_WAKE * 2)
    driver, _, _ = _driver(client)
    driver.read()
    assert client.reads == READS_PER_WAKE


async def test_comes_back_for_bytes_the_client_read_ahead(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Bytes already off the socket never wake the selector: the driver schedules another read."""
    client = ScriptedClient(pair[0])
    client.packets = ["msg"] * (READS_PER_WAKE + 3)
    driver, _, _ = _driver(client, unread=[512])  # after the first round: 512 bytes read ahead
    driver.read()
    assert client.delivered == READS_PER_WAKE
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert client.delivered == READS_PER_WAKE + 3


async def test_stops_reading_when_the_connection_ends(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """A read that loses the connection ends the round at once."""
    client = ScriptedClient(pair[0])
    client.packets = ["msg", "end", "msg"]
    driver, faults, _ = _driver(client)
    driver.read()
    assert (client.delivered, client.reads, faults) == (1, 2, [])


async def test_paho_raising_is_reported_not_swallowed(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """An exception out of paho reaches on_fault (the ingest then fails loudly), never the loop."""
    client = ScriptedClient(pair[0])
    client.fail_with = RuntimeError("boom")
    driver, faults, _ = _driver(client)
    driver.read()
    assert [str(exc) for exc in faults] == ["boom"]


async def test_watch_reads_and_writes_the_socket_from_the_loop(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """After watch(), readable data calls loop_read and the queued CONNECT gets loop_write."""
    ours, peer = pair
    client = ScriptedClient(ours)
    client.packets = ["msg"]
    driver, _, _ = _driver(client)
    driver.watch()
    peer.send(b"x")
    for _ in range(20):
        await asyncio.sleep(0.01)
        if client.reads and client.writes:
            break
    assert client.reads >= 1 and client.writes >= 1
    driver.unwatch()


async def test_write_requests_from_another_thread_are_left_to_watch(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """paho asking for writes from reconnect()'s worker thread changes nothing on the loop."""
    client = ScriptedClient(pair[0])
    driver, _, _ = _driver(client)
    assert client.on_socket_register_write is not None
    callback = client.on_socket_register_write
    worker = threading.Thread(target=lambda: callback(client, None, pair[0]))
    worker.start()
    worker.join()
    await asyncio.sleep(0.05)
    assert client.writes == 0
    driver.watch()
    await asyncio.sleep(0.05)
    assert client.writes >= 1
    driver.unwatch()


async def test_a_closing_socket_is_forgotten_and_reported(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """paho closing the socket removes it from the loop and tells the client, before the close."""
    ours, _ = pair
    client = ScriptedClient(ours)
    driver, _, events = _driver(client)
    driver.watch()
    assert client.on_socket_close is not None
    client.on_socket_close(client, None, ours)
    loop = asyncio.get_running_loop()
    assert events == ["closed"]
    assert not loop.remove_reader(ours.fileno())  # already gone
    assert not loop.remove_writer(ours.fileno())


async def test_flush_writes_a_publish_at_once_and_nothing_when_idle(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """flush() hands queued packets to the socket now (a device ack), and is free when idle."""
    client = ScriptedClient(pair[0])
    driver, _, _ = _driver(client)
    client.queued = True
    driver.flush()  # not watched yet (connecting): leave it to watch()
    assert client.writes == 0
    driver.watch()
    driver.flush()
    driver.flush()
    assert client.writes == 1
    driver.unwatch()


async def test_keepalive_ticks_only_while_a_socket_is_open(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """tick() runs paho's loop_misc (pings) on an open socket and does nothing without one."""
    client = ScriptedClient(pair[0])
    driver, _, _ = _driver(client)
    driver.tick()
    client.sock = None
    driver.tick()
    assert client.misc == 1


async def test_new_sockets_get_tcp_nodelay() -> None:
    """Every socket paho opens has Nagle off: a device ack never waits for a delayed ACK."""
    client = ScriptedClient(None)
    _driver(client)
    assert client.on_socket_open is not None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        client.on_socket_open(client, None, sock)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
