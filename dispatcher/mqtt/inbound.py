"""Received messages and their hand-off from paho's network thread to the asyncio side.

This is the hot path (10,000+ messages a second): the network thread appends to a deque and
wakes the event loop only when a waiting ``next_batch`` has something to take, so a batch of
a thousand messages costs one ``call_soon_threadsafe``, not a thousand.

Why the buffer needs no lock: ``deque.append``/``popleft`` are atomic under the GIL, and the
wake-up handshake orders its steps so a message is never left unseen (the consumer arms, then
re-checks the deque; the producer appends, then reads the arming).

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
import contextlib
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
    """UTC, stamped on arrival in the network thread: the SLA clock starts here."""
    retain: bool = False
    dup: bool = False
    """The broker says it may have sent this before (a redelivery after a reconnect)."""
    connection: int = 0
    """Which connection of the client delivered it: an ack is only valid on that connection."""


class InboundBuffer:
    """A bounded deque filled by one thread and drained in batches by one asyncio task."""

    def __init__(self, max_items: int) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self.dropped_qos0 = 0
        self._items: deque[Inbound] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()
        self._armed = False
        self._threshold = 1
        self._failure: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the event loop that will call ``next_batch``."""
        self._loop = loop

    # --- producer side: paho's network thread -------------------------------------------------

    def put(self, item: Inbound) -> bool:
        """Append ``item``; False if it was a QoS 0 message dropped because the buffer is full."""
        items = self._items
        if item.qos == 0 and len(items) >= self.max_items:
            self.dropped_qos0 += 1
            return False
        items.append(item)
        if self._armed and len(items) >= self._threshold:
            self._armed = False
            self._wake()
        return True

    def fail(self, exc: BaseException) -> None:
        """Make every current and future ``next_batch`` raise ``exc``."""
        self._failure = exc
        self._armed = False
        self._wake()

    def _wake(self) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(self._event.set)

    # --- consumer side: the asyncio task ------------------------------------------------------

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
        self._event.clear()
        self._threshold = threshold
        self._armed = True
        try:
            if len(self._items) >= threshold:  # arrived between our check and the arming
                return
            if wait_s is None:
                await self._event.wait()
            else:
                try:
                    async with asyncio.timeout(wait_s):
                        await self._event.wait()
                except TimeoutError:
                    pass
        finally:
            self._armed = False
        if self._failure is not None:
            raise self._failure
