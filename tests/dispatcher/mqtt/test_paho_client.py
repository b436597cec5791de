"""FastPahoClient's overrides, frame by frame and read by read, against the installed paho.

The end-to-end behaviour is covered against a real broker in test_ingest_client.py (both receive
paths); these pin the byte-level cases a broker rarely produces (properties, flags, malformed
frames), that the fast path decodes exactly what paho's public path delivers, buffered reads and
batched PUBACKs. They set and read paho's private state (``_in_packet``, ``_sock``,
``_out_packet``) on purpose: this file is where a paho upgrade that changes it would show.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from dispatcher.mqtt.paho_client import FastPahoClient, fast_path_verified

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


def _feed(client: paho.Client, header: int, packet: bytes) -> MQTTErrorCode:
    client._in_packet["command"] = header
    client._in_packet["packet"] = bytearray(packet)
    rc: MQTTErrorCode = client._handle_publish()
    return rc


_V5, _V311 = MQTTProtocolVersion.MQTTv5, MQTTProtocolVersion.MQTTv311
_USER_PROPERTY = b"\x26\x00\x01k\x00\x01v"  # user property k=v
_FORMAT = b"\x01\x01"  # payload format indicator: UTF-8
FRAMES = [
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
]


@pytest.mark.parametrize(("protocol", "header", "packet", "expected"), FRAMES)
def test_decodes_publish_frames(
    protocol: MQTTProtocolVersion, header: int, packet: bytes, expected: Received
) -> None:
    """Topic, payload, packet id, QoS, retain and dup come out of each frame; properties skipped."""
    client, received = _client(protocol)
    assert _feed(client, header, packet) == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert received == [expected]
    assert not client.want_write()  # manual ack: nothing acknowledged by itself


@pytest.mark.parametrize(("protocol", "header", "packet", "expected"), FRAMES)
def test_paho_public_path_delivers_the_same(
    protocol: MQTTProtocolVersion, header: int, packet: bytes, expected: Received
) -> None:
    """paho's own decoding of each frame gives what the fast path gives (so either may run)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=protocol, manual_ack=True)
    received: list[Received] = []

    def on_message(_c: paho.Client, _u: object, m: paho.MQTTMessage) -> None:
        received.append((m.topic, bytes(m.payload), m.mid, m.qos, m.retain, m.dup))

    client.on_message = on_message
    assert _feed(client, header, packet) == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert received == [expected]
    assert not client.want_write()


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
    """A broken frame is a protocol error (paho closes, we reconnect) and delivers nothing."""
    client, received = _client(_V5)
    assert _feed(client, 0x32, packet) == MQTTErrorCode.MQTT_ERR_PROTOCOL
    assert received == []


@pytest.mark.parametrize(
    ("version", "verified"),
    [("2.1.0", True), ("2.2.0", True), ("2.2.1", True), ("2.3.0", False), ("3.0.0", False)],
)
def test_the_fast_path_is_used_only_on_verified_paho_versions(version: str, verified: bool) -> None:
    """An unverified paho release runs paho's public path instead of the private override."""
    assert fast_path_verified(version) is verified


def test_the_installed_paho_is_verified() -> None:
    """The paho this project installs is one the fast path was checked against (else: re-verify)."""
    assert fast_path_verified()


def test_queue_pubacks_sends_one_write_for_a_batch() -> None:
    """A batch of packet ids becomes one queued packet of PUBACK frames, in order."""
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
    assert client.unread() == 3  # read ahead: the loop driver must come back for these
    client._sock = new  # a reconnect: the leftover "def" belongs to the old connection
    assert client.unread() == 0
    assert client._sock_recv(3) == b"xyz"
    with pytest.raises(BlockingIOError):  # drained: paho's signal to wait for the selector
        client._sock_recv(1)
    client._sock = None


def test_whole_packets_split_across_reads_come_out_whole(
    socket_pairs: list[tuple[socket.socket, socket.socket]],
) -> None:
    """Two PUBLISH packets, the second cut in the middle of a read, are each delivered once."""
    client, received = _client(_V5)
    ours, peer = socket_pairs[0]
    client._sock = ours
    one = _publish(b"a/b", b"first", mid=1, properties=b"")
    two = _publish(b"a/b", b"second", mid=2, properties=b"")
    wire = bytes([0x32, len(one)]) + one + bytes([0x32, len(two)]) + two
    peer.sendall(wire[:-3])
    assert client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS  # waits for the rest
    peer.sendall(wire[-3:])
    assert client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS
    assert [(topic, payload, mid) for topic, payload, mid, *_ in received] == [
        ("a/b", b"first", 1),
        ("a/b", b"second", 2),
    ]
    client._sock = None
