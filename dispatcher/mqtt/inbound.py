"""Received messages, and the buffer between paho's message callback and ``next_batch``.

Both sides run on the event loop's thread (paho is driven by the loop, see ``loop_driver``), so
the buffer is a plain deque plus one future for the waiting consumer: ``put`` wakes it only when
it has enough to take, so a batch of a thousand messages costs one wake-up, not a thousand.

Bound: QoS 1 messages are bounded by the broker, not by us, and never dropped here (a dropped
unacknowledged message would sit in the session until the next reconnect). With manual
acknowledgement the broker stops sending once ``receive_maximum`` QoS 1 messages are
unacknowledged (MQTT 5 flow control: natural backpressure, the rest waits in the broker's queue
for us), and the ingest client sets ``receive_maximum <= max_items``. Caveat, measured: mosquitto
2.0.11 honours the window only until the first PUBACKs; after that each PUBACK releases up to a
whole window more (eclipse/mosquitto#2301), so the real ceiling is the broker's per-client queue
(``max_queued_messages``) plus one window. QoS 0 messages have no flow control at all: past
``max_items`` they are dropped and counted (QoS 0 telemetry is best-effort by contract).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Inbound", "InboundBuffer"]


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message as the broker delivered it, stamped with the server's receive time."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: datetime
    """UTC, stamped when the packet is read off the socket: the SLA clock starts here."""
    retain: bool = False
    dup: bool = False
    """The broker says it may have sent this before (a redelivery after a reconnect)."""
    connection: int = 0
    """Which connection of the client delivered it: an ack is only valid on that connection."""


class InboundBuffer:
    """A deque filled by paho's callback and drained in batches by one task, on one loop."""

    def __init__(self, max_items: int) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self.dropped_qos0 = 0
        self._items: deque[Inbound] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._threshold = 1
        self._failure: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    # --- producer side: paho's message callback ----------------------------------------------

    def put(self, item: Inbound) -> bool:
        """Append ``item``; False if it was a QoS 0 message dropped because the buffer is full."""
        items = self._items
        if item.qos == 0 and len(items) >= self.max_items:
            self.dropped_qos0 += 1
            return False
        items.append(item)
        if self._waiter is not None and len(items) >= self._threshold:
            self._wake()
        return True

    def fail(self, exc: BaseException) -> None:
        """Make every current and future ``next_batch`` raise ``exc``."""
        self._failure = exc
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- consumer side: the ingest task ---------------------------------------------------------

    async def next_batch(self, max_items: int, max_wait_s: float) -> list[Inbound]:
        """Wait for one message, then gather up to ``max_items`` arriving within ``max_wait_s``."""
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        if self._failure is not None:
            raise self._failure
        items = self._items
        while not items:
            await self._wait_for(1, None)
        if len(items) < max_items and max_wait_s > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + max_wait_s
            while len(items) < max_items:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                await self._wait_for(max_items, remaining)
        popleft = items.popleft
        return [popleft() for _ in range(min(max_items, len(items)))]

    async def _wait_for(self, threshold: int, wait_s: float | None) -> None:
        if self._failure is not None:
            raise self._failure
        if self._waiter is not None:
            raise RuntimeError("next_batch is already being awaited by another task")
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self._threshold = threshold
        try:
            if wait_s is None:
                await waiter
            else:
                try:
                    async with asyncio.timeout(wait_s):
                        await waiter
                except TimeoutError:
                    pass
        finally:
            if self._waiter is waiter:
                self._waiter = None
        if self._failure is not None:
            raise self._failure
