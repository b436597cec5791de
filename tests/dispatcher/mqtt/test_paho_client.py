"""FastPahoClient's receive path, frame by frame: PUBLISH decoding, buffered reads, PUBACKs.

The end-to-end behaviour is covered against a real broker in test_ingest_client.py; these tables
pin the byte-level cases a broker rarely produces (properties, flags, malformed frames).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from dispatcher.mqtt.paho_client import FastPahoClient

Received = tuple[str, bytes, int, int, bool, bool]


def _client(protocol: MQTTProtocolVersion) -> tuple[FastPahoClient, list[Received]]:
    client = FastPahoClient(CallbackAPIVersion.VERSION2, protocol=protocol, manual_ack=True)
    received: list[Received] = []
    client.sink = lambda *args: received.append(args)
    return client, received


def _publish(topic: bytes, payload: bytes, *, mid: int | None, properties: bytes | None) -> bytes:
    """The variable header and payload of a PUBLISH (what paho keeps in ``_in_packet``)."""
    body = struct.pack("!H", len(topic)) + topic
    if mid is not None:
        body += struct.pack("!H", mid)
    if properties is not None:
        body += bytes([len(properties)]) + properties
    return body + payload


_V5, _V311 = MQTTProtocolVersion.MQTTv5, MQTTProtocolVersion.MQTTv311
_USER_PROPERTY = b"\x26\x00\x01k\x00\x01v"  # user property k=v
_FORMAT = b"\x01\x01"  # payload format indicator: UTF-8


@pytest.mark.parametrize(
    ("protocol", "header", "packet", "expected"),
    [
        (_V5, 0x32, _publish(b"a/b", b"{}", mid=7, properties=b""), ("a/b", b"{}", 7, 1, 0, 0)),
        (
            _V5,
            0x3B,  # dup, QoS 1, retain
            _publish(b"a/b", b"x", mid=65535, properties=_FORMAT + _USER_PROPERTY),
            ("a/b", b"x", 65535, 1, 1, 1),
        ),
        (_V5, 0x30, _publish(b"t", b"", mid=None, properties=b""), ("t", b"", 0, 0, 0, 0)),
        (_V311, 0x32, _publish(b"a/b", b"{}", mid=1, properties=None), ("a/b", b"{}", 1, 1, 0, 0)),
        (
            _V311,
            0x30,
            _publish("设备/é".encode(), b"\xff", mid=None, properties=None),
            ("设备/é", b"\xff", 0, 0, 0, 0),
        ),
    ],
)
def test_decodes_publish_frames(
    protocol: MQTTProtocolVersion, header: int, packet: bytes, expected: Received
) -> None:
    """Topic, payload, packet id, QoS, retain and dup come out of each frame; properties skipped."""
    client, received = _client(protocol)
    client._in_packet["command"] = header
    client._in_packet["packet"] = bytearray(packet)
    assert client._handle_publish() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert received == [expected]
    assert not client._out_packet  # manual ack: nothing acknowledged by itself


@pytest.mark.parametrize(
    "packet",
    [
        b"\x00",  # topic length cut short
        b"\x00\x09a/b",  # topic longer than the packet
        _publish(b"", b"x", mid=1, properties=b""),  # empty topic (an alias we never allowed)
        _publish(b"\xff\xfe", b"x", mid=1, properties=b""),  # topic not UTF-8
        _publish(b"a/b", b"", mid=1, properties=None) + b"\x09",  # properties past the end
        _publish(b"a/b", b"", mid=None, properties=None)[:5],  # no room for the packet id
    ],
)
def test_malformed_publish_frames_drop_the_connection(packet: bytes) -> None:
    """A broken frame returns a protocol error (paho then reconnects) and delivers nothing."""
    client, received = _client(_V5)
    client._in_packet["command"] = 0x32
    client._in_packet["packet"] = bytearray(packet)
    assert client._handle_publish() == MQTTErrorCode.MQTT_ERR_PROTOCOL
    assert received == []


def test_queue_pubacks_sends_one_write_for_a_batch() -> None:
    """A batch of packet ids becomes one queued write of PUBACK frames, in order."""
    client, _ = _client(_V5)
    client.queue_pubacks([1, 2, 513])
    [queued] = client._out_packet
    assert queued["packet"] == b"\x40\x02\x00\x01" + b"\x40\x02\x00\x02" + b"\x40\x02\x02\x01"


@pytest.fixture
def socket_pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    """Two pairs of connected sockets (ours non-blocking), closed after the test."""
    pairs = [socket.socketpair() for _ in range(2)]
    for ours, _ in pairs:
        ours.setblocking(False)
    try:
        yield pairs
    finally:
        for pair in pairs:
            for sock in pair:
                sock.close()


def test_reads_are_served_from_one_recv_and_never_across_sockets(
    socket_pairs: list[tuple[socket.socket, socket.socket]],
) -> None:
    """Small reads come from one buffered recv; bytes left from an old socket are dropped."""
    client, _ = _client(_V5)
    (old, old_peer), (new, new_peer) = socket_pairs
    client._sock = old
    old_peer.sendall(b"abcdef")
    new_peer.sendall(b"xyz")
    assert client._sock_recv(1) == b"a"
    assert client._sock_recv(2) == b"bc"
    client._sock = new  # a reconnect: the leftover "def" belongs to the old connection
    assert client._sock_recv(3) == b"xyz"
    with pytest.raises(BlockingIOError):  # drained: paho's signal to go back to select()
        client._sock_recv(1)
    client._sock = None


def test_a_dying_network_thread_is_reported() -> None:
    """An exception that ends paho's network thread reaches on_crash before the thread ends."""
    client, _ = _client(_V5)
    crashes: list[BaseException] = []
    client.on_crash = crashes.append

    def explode(*_: object, **__: object) -> MQTTErrorCode:
        raise RuntimeError("boom")

    client.loop_forever = explode  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="boom"):
        client._thread_main()
    assert [str(exc) for exc in crashes] == ["boom"]
