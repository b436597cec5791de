"""paho's network I/O driven by the asyncio event loop, through paho's public "external loop" API.

paho-mqtt documents two ways to run: its own network thread (``loop_start``/``loop_forever``), or
an event loop of the application's that calls ``loop_read()`` when the socket is readable,
``loop_write()`` when it is writable and there is something to write, and ``loop_misc()`` about
once a second (keepalive). paho says when to watch what through four public callbacks:
``on_socket_open``, ``on_socket_close``, ``on_socket_register_write`` and
``on_socket_unregister_write``. This module is that glue and nothing else (aiomqtt runs paho the
same way). So every paho callback runs on the event loop's thread, and the ingest client needs
no lock and no cross-thread wake-up.

The one blocking call, ``Client.reconnect()`` (DNS, TCP connect, TLS handshake), runs in a worker
thread; the socket callbacks it triggers there are ignored and ``watch()`` picks the new socket
up on the loop's thread afterwards. Acknowledgements batch by themselves: a batch of ``ack()``
calls queues its PUBACKs in paho, and they leave when the loop next finds the socket writable. A
publish (a device's ``ack``) is written at once by ``flush()``, with any PUBACK queued before it,
as paho's own thread used to: the rest of a busy loop iteration does not delay it.

Reads: paho's ``loop_read()`` handles one packet per call, so one readable event would cost one
trip through the event loop per message; ``read`` calls it again while it keeps delivering
messages, up to ``READS_PER_WAKE`` (then other callbacks get their turn: the emergency lane has
its own connection on the same loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

__all__ = ["READS_PER_WAKE", "LoopDriver"]

READS_PER_WAKE = 64
"""Packets one readable event may take in before yielding: ~1.3 ms with paho_client's decoder,
~3.5 ms on paho's public path, which is what a telemetry flood can hold an SOS back."""


class LoopDriver:
    """Runs one ``paho.Client``'s socket on ``loop``; build it on the loop's thread."""

    def __init__(
        self,
        client: paho.Client,
        loop: asyncio.AbstractEventLoop,
        *,
        delivered: Callable[[], int],
        on_fault: Callable[[BaseException], None],
        on_closed: Callable[[], None],
        unread: Callable[[], int] = lambda: 0,
    ) -> None:
        self._client = client
        self._loop = loop
        self._thread = threading.get_ident()
        self._delivered = delivered  # a counter the message callback bumps: "reading made progress"
        self._on_fault = on_fault  # paho raised: the machinery is broken, not the connection
        self._on_closed = on_closed
        self._unread = unread  # bytes the client read ahead and has not parsed (paho_client)
        self._fd: int | None = None  # the socket we watch, by number (a closing socket has -1)
        self._writing = False
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write

    @property
    def open(self) -> bool:
        """A socket is open (connected, or waiting for the CONNACK)."""
        return self._client.socket() is not None

    def watch(self) -> None:
        """Start reading (and writing what paho queued, such as CONNECT) on the client's socket.

        Call on the loop's thread after ``reconnect()`` returned in a worker thread.
        """
        self.unwatch()
        sock = self._client.socket()
        if sock is None:
            return
        self._fd = sock.fileno()
        self._loop.add_reader(self._fd, self.read)
        # Always: paho may have asked for writing from the worker thread (ignored there), and it
        # asks only once until we tell it the queue drained (loop_write does that).
        self._writing = True
        self._loop.add_writer(self._fd, self.write)

    def unwatch(self) -> None:
        """Stop watching the socket (it is about to close)."""
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
            self._fd = None
        self._writing = False

    def flush(self) -> None:
        """Write what paho has queued now, not when the loop next finds the socket writable.

        For a publish such as a device's ``ack``: the rest of the current loop iteration (other
        tasks' steps) would otherwise run first. Acks alone are left to the writer, so that a
        batch of them leaves in one ``loop_write``.
        """
        if self._fd is not None and self._client.want_write():
            self._guard(self._client.loop_write)

    def tick(self) -> None:
        """Keepalive: PINGREQ when idle; close a connection whose PINGRESP never came."""
        if self.open:
            self._guard(self._client.loop_misc)

    # --- paho's socket callbacks ------------------------------------------------------------------

    def _socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        # Runs in reconnect()'s worker thread: touch only the new socket. A PUBACK followed at
        # once by a device ack is two small writes: with Nagle on, the second waits for the
        # peer's delayed ACK (~40 ms on Linux), latency an SOS ack must not pay.
        with contextlib.suppress(AttributeError, OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if threading.get_ident() != self._thread:
            # Never by construction (the loop closes a socket before the next reconnect());
            # should paho do it, forget the number on the loop's thread before it is reused.
            self._loop.call_soon_threadsafe(self.unwatch)
            return
        self.unwatch()
        self._on_closed()

    def _register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if threading.get_ident() != self._thread or self._fd is None or self._writing:
            return  # from the worker thread, or not watched yet: watch() adds the writer
        self._writing = True
        self._loop.add_writer(self._fd, self.write)

    def _unregister_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if threading.get_ident() != self._thread or not self._writing:
            return
        self._writing = False
        if self._fd is not None:
            self._loop.remove_writer(self._fd)

    # --- the loop's readiness callbacks ----------------------------------------------------------

    def read(self) -> None:
        """The socket is readable: take in packets while they keep delivering messages."""
        client = self._client
        try:
            for _ in range(READS_PER_WAKE):
                before = self._delivered()
                if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    return  # the connection ended; paho closed it and called on_disconnect
                if self._delivered() == before:
                    break  # drained, or a packet other than PUBLISH: the selector says if more
            sock = client.socket()
            # Bytes already taken off the socket never wake the selector: those decrypted inside
            # an SSL object, and those a buffering client (paho_client) read ahead.
            if sock is not None and (getattr(sock, "pending", _nothing)() or self._unread()):
                self._loop.call_soon(self.read)
        except Exception as exc:  # paho or one of our callbacks broke
            self._on_fault(exc)

    def write(self) -> None:
        """The socket is writable: hand paho's queued packets (PUBACKs, publishes) to it."""
        self._guard(self._client.loop_write)

    def _guard(self, step: Callable[[], MQTTErrorCode]) -> None:
        try:
            step()
        except Exception as exc:
            self._on_fault(exc)


def _nothing() -> int:
    return 0
