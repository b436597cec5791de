"""PUBACKs on their way out: batched per event-loop iteration, dropped if their connection ended.

Packet ids are per connection, and the broker reuses an id once it is acknowledged. After a
reconnect the broker redelivers every unacknowledged message on the new connection (flagged
``dup``), so a late ack of the old delivery must be dropped: sent on the new connection it could
acknowledge an unrelated message that reused the id, before that message was committed. The
redelivered copy is acked instead (ingest dedupes on ``(device_id, msg_id)``).

paho bumps the connection counter from its network thread (``new_connection``, on disconnect and
before every connect) and clears its outgoing queue when it reconnects; the lock makes "check the
connection, queue the PUBACKs" atomic against that, so no stale PUBACK reaches a new connection.
"""

from __future__ import annotations

import asyncio
import threading

from dispatcher.mqtt.paho_client import FastPahoClient

__all__ = ["AckQueue"]


class AckQueue:
    """Collects acks from the event loop's thread and hands them to paho once per iteration."""

    def __init__(self) -> None:
        self.connection = 0
        """The current connection's number; the network thread stamps each message with it."""
        self._lock = threading.Lock()
        self._pending: list[tuple[int, int]] = []  # (packet id, connection)
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: FastPahoClient | None = None

    def attach(self, loop: asyncio.AbstractEventLoop, client: FastPahoClient | None) -> None:
        """Send through ``client`` (None: drop everything), flushing on ``loop``."""
        self._loop, self._client = loop, client

    def new_connection(self) -> None:
        """Network thread: the connection ended or a new one starts; older acks are void."""
        with self._lock:
            self.connection += 1

    def add(self, mid: int, connection: int) -> None:
        """Event loop thread: queue a PUBACK; it leaves when this loop iteration ends."""
        self._pending.append((mid, connection))
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Hand the queued PUBACKs of the current connection to paho as one write."""
        self._scheduled = False
        pending, self._pending = self._pending, []
        client = self._client
        if client is None or not pending:
            return
        with self._lock:
            current = self.connection
            mids = [mid for mid, connection in pending if connection == current]
            if mids:
                client.queue_pubacks(mids)

    def ack_qos2(self, mid: int, connection: int) -> None:
        """paho's own path for a QoS 2 message (never under our QoS 1 subscriptions)."""
        with self._lock:
            if self._client is not None and connection == self.connection:
                self._client.ack(mid, 2)
