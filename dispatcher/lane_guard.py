"""Keep every loop going: one message's fault becomes a dead letter, a database outage a pause.

Two kinds of failure, told apart by ``store.is_outage`` (DESIGN.md §3):

- **The message's own fault** (a value a column refuses, a bug its data reaches): the message is
  tried once more, in a fresh transaction; if that fails too it is *refused*: kept as a dead
  letter (raw bytes, reason), acknowledged, the device told. The lane goes on. (Left unhandled, the
  broker would redeliver it and it would end every restart: one device could stop a district.)
- **An outage** (connection refused or lost, disk full, database locked): nothing is refused and
  nothing acknowledged, so the broker keeps the messages. The loop waits (0.5 s, doubling to
  5 s) and tries the same work again until the database answers; ``DatabaseHealth`` makes
  ``/readyz`` say not ready meanwhile. Work resumes by itself.

Refusing is itself a write. If even that fails, whatever the error, it is treated as an outage: a
message is acknowledged only once its effects or its dead letter are committed.

``LaneGuard`` is the mechanism (any loop uses ``ride_out``); ``GuardedIngest`` puts ingest's two
lanes and its dispatch hints behind it, and is what the server's lane loops call.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from dispatcher.store.database import is_outage

if TYPE_CHECKING:  # annotations only: the timer and outbox loops need no ingest
    from dispatcher.ingest import Broker, Inbound, Ingest

log = structlog.get_logger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

FIRST_PAUSE_S = 0.5
# Short enough that an SOS waits at most ~5 s more once the database is back; five loops per
# process then knock about once a second, nothing for a database that is coming up.
MAX_PAUSE_S = 5.0


class DatabaseHealth:
    """Which loops are waiting for the database right now; ``/readyz`` is ready only if none are.

    Each loop reports under its own name and clears only its own: a timer tick that succeeds does
    not hide an ingest lane still stuck on its message.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, float] = {}
        self.outages = 0

    @property
    def ok(self) -> bool:
        return not self._waiting

    @property
    def waiting(self) -> tuple[str, ...]:
        return tuple(sorted(self._waiting))

    def lost(self, what: str) -> bool:
        """``what`` cannot reach the database; True if this starts an outage for it."""
        if what in self._waiting:
            return False
        if not self._waiting:
            self.outages += 1
        self._waiting[what] = time.monotonic()
        return True

    def back(self, what: str) -> float | None:
        """``what`` reached the database again; how long it waited, None if it never did."""
        since = self._waiting.pop(what, None)
        return None if since is None else time.monotonic() - since


class LaneGuard:
    """Runs a loop's work so that outages pause it and one message's faults end in a refusal."""

    def __init__(
        self,
        health: DatabaseHealth | None = None,
        *,
        first_pause_s: float = FIRST_PAUSE_S,
        max_pause_s: float = MAX_PAUSE_S,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = lambda: random.uniform(0.9, 1.1),
    ) -> None:
        self.health = health or DatabaseHealth()
        self.first_pause_s = first_pause_s
        self.max_pause_s = max_pause_s
        self._sleep = sleep
        self._jitter = jitter  # ±10 %: loops and server processes do not knock all at once
        self.retried = 0
        self.refused = 0

    def counters(self) -> dict[str, int]:
        return {
            "db_outages": self.health.outages,
            "messages_retried": self.retried,
            "messages_refused": self.refused,
        }

    async def ride_out(
        self, what: str, work: Callable[[], Awaitable[T]], *, any_fault: bool = False
    ) -> T:
        """``work()``, run again after a pause for as long as it fails with an outage.

        Other exceptions propagate (the caller decides), unless ``any_fault``: then every failure
        is waited out like an outage (for the writes that must never be given up on).
        """
        pause = self.first_pause_s
        while True:
            try:
                result = await work()
            except Exception as exc:
                if not (any_fault or is_outage(exc)):
                    self.health.back(what)  # it answered, if only to refuse this work
                    raise
                delay = pause * self._jitter()
                first = self.health.lost(what)
                (log.error if first else log.warning)(
                    "database_unavailable",
                    loop=what,
                    error=describe(exc),
                    retry_in_s=round(delay, 2),
                    outage=is_outage(exc),
                )
                await self._sleep(delay)
                pause = min(self.max_pause_s, pause * 2)
                continue
            waited = self.health.back(what)
            if waited is not None:
                log.warning("database_back", loop=what, waited_s=round(waited, 1))
            return result

    async def one_message(
        self,
        what: str,
        handle: Callable[[], Awaitable[None]],
        refuse: Callable[[str], Awaitable[None]],
        **context: Any,
    ) -> bool:
        """``handle()``, tried again once after a fault of its own, then ``refuse(reason)``.

        Outages are ridden out throughout and never count as a try. True if it was handled.
        """
        failure: Exception | None = None
        for attempt in (1, 2):
            try:
                await self.ride_out(what, handle)
                return True
            except Exception as exc:
                failure = exc
                log.warning(
                    "message_failed", lane=what, attempt=attempt, error=describe(exc), **context
                )
                if attempt == 1:
                    self.retried += 1
        assert failure is not None
        reason = f"could not be handled, twice: {describe(failure)}"
        await self.ride_out(what, lambda: refuse(reason), any_fault=True)
        self.refused += 1
        log.error("message_refused", lane=what, reason=reason, **context)
        return False


class GuardedIngest:
    """Ingest's lanes behind a ``LaneGuard``: what the server's loops (and the fuzz tests) call."""

    def __init__(self, ingest: Ingest, guard: LaneGuard) -> None:
        self.ingest = ingest
        self.guard = guard
        self.finished = 0  # messages done with: committed, or refused (and acknowledged)

    async def emergency(self, msg: Inbound, broker: Broker) -> None:
        """One sos/fall/alarm: handled, or refused after a second try; never raised."""
        once = AckOnce(broker)
        await self.guard.one_message(
            "emergency",
            partial(self.ingest.handle_emergency, msg, once),
            partial(self.ingest.refuse, msg, once),
            topic=_short(msg.topic),
        )
        self.finished += 1

    async def telemetry(self, batch: Sequence[Inbound], broker: Broker) -> None:
        """A batch in one transaction; if it fails for a reason of its own, message by message."""
        once = AckOnce(broker)
        try:
            await self.guard.ride_out(
                "telemetry", lambda: self.ingest.handle_telemetry(batch, once)
            )
            self.finished += len(batch)
            return
        except Exception as exc:
            log.warning("telemetry_batch_failed", size=len(batch), error=describe(exc))
        for msg in batch:
            await self.guard.one_message(
                "telemetry",
                partial(self.ingest.handle_telemetry, [msg], once),
                partial(self.ingest.refuse, msg, once),
                topic=_short(msg.topic),
            )
            self.finished += 1

    async def dispatch(self, incident_id: int) -> None:
        """Offer a freshly opened incident; an outage is waited out (the timer is the backstop)."""
        await self.guard.ride_out("dispatch", lambda: self.ingest.dispatch(incident_id))


class AckOnce:
    """A broker connection that acknowledges each message at most once.

    A try that fails after its acknowledgement (a publish that raised) is tried again; a second
    PUBACK for the same packet id could acknowledge a different message that reused the id.
    """

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._acked: set[int] = set()

    def ack(self, msg: Any) -> None:
        if id(msg) not in self._acked:
            self._acked.add(id(msg))
            self._broker.ack(msg)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self._broker.publish(topic, payload, qos=qos, retain=retain)


def describe(exc: BaseException, limit: int = 500) -> str:
    """The exception's type and its message's first line that says what went wrong.

    SQLAlchemy appends the SQL and its parameters (kept out of logs and dead letters) and may
    put a note about autoflush first.
    """
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("(raised as a result of")] or lines
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text[:limit]


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["AckOnce", "DatabaseHealth", "GuardedIngest", "LaneGuard", "describe"]
