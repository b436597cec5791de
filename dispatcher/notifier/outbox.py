"""The outbox loop: every notification is a row first, then sent, retried with backoff.

Rows are claimed with a lease (status ``sending`` until ``next_attempt_at``) and sent outside any
transaction, so a slow SMS provider never holds a database lock; a process that dies mid-send
leaves a lease that expires and another attempt picks it up (at least once, never lost). The
rows, their statuses (``OutboxStatus``) and their queries are ``store/outbox.py``'s.

A database outage pauses the loop (``LaneGuard.ride_out``): claiming waits for it, and results of
messages already sent are kept in memory and recorded once it is back, so an outage does not
make anyone receive the same SMS twice (unless it outlasts the lease and another process
claims the row meanwhile).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from dispatcher.clock import Clock
from dispatcher.lane_guard import LaneGuard
from dispatcher.notifier.channels import Channel, backoff
from dispatcher.notifier.errors import NotifierError
from dispatcher.store.database import Database
from dispatcher.store.models import OutboxMessage
from dispatcher.store.outbox import Attempt, OutboxStatus, OutboxStore

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8


class OutboxLoop:
    def __init__(
        self,
        db: Database,
        channels: dict[str, Channel],
        clock: Clock,
        *,
        batch: int = 20,
        idle_sleep_s: float = 0.5,
        guard: LaneGuard | None = None,
    ) -> None:
        self.db = db
        self.rows = OutboxStore(db)
        self.channels = channels
        self.clock = clock
        self.batch = batch
        self.idle_sleep_s = idle_sleep_s
        self.guard = guard or LaneGuard()
        self.sent = 0

    async def _claim(self) -> list[OutboxMessage]:
        now = self.clock()
        async with self.db.session() as s:
            return await self.rows.claim(s, now, limit=self.batch, lease=LEASE)

    async def tick(self) -> int:
        """Send what is due, concurrently, then record every result in one transaction."""
        return await self._tick(guarded=False)

    async def _tick(self, *, guarded: bool) -> int:
        rows = await (self.guard.ride_out("outbox", self._claim) if guarded else self._claim())
        if rows:
            results = await asyncio.gather(*(self._send(row) for row in rows))
            if guarded:
                await self.guard.ride_out("outbox", lambda: self._record(rows, results))
            else:
                await self._record(rows, results)
        return len(rows)

    async def _send(self, row: OutboxMessage) -> Attempt:
        channel = self.channels.get(row.channel)
        if channel is None:
            return Attempt(OutboxStatus.FAILED, f"no channel named {row.channel!r}")
        try:
            sent = await channel.send(row.recipient, row.body)
        except NotifierError as exc:
            if exc.retryable and row.attempts < MAX_ATTEMPTS:
                retry_at = self.clock() + backoff(row.attempts)
                return Attempt(OutboxStatus.PENDING, str(exc), retry_at=retry_at)
            return Attempt(OutboxStatus.FAILED, str(exc))
        return Attempt(OutboxStatus.SENT, None, provider_id=sent.provider_id)

    async def _record(self, rows: list[OutboxMessage], results: list[Attempt]) -> None:
        now = self.clock()
        async with self.db.session() as s:
            for row, result in zip(rows, results, strict=True):
                # A failure on an incident's message also lands on its timeline.
                await self.rows.settle(s, row, result, now)
        for row, result in zip(rows, results, strict=True):
            bound = log.bind(outbox_id=row.id, incident_id=row.incident_id, purpose=row.purpose)
            if result.status is OutboxStatus.SENT:
                self.sent += 1
                bound.info("notification_sent", channel=row.channel, provider_id=result.provider_id)
            else:
                bound.warning(
                    "notification_not_sent",
                    status=result.status.value,
                    error=result.error,
                    attempts=row.attempts,
                )

    async def run(self) -> None:
        log.info("outbox_loop_started", channels=sorted(self.channels))
        while True:
            if await self._tick(guarded=True) == 0:
                await asyncio.sleep(self.idle_sleep_s)
