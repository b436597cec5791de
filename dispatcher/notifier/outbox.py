"""The outbox loop: every notification is a row first, then sent, retried with backoff.

Rows are claimed with a lease (status ``sending`` until ``next_attempt_at``) and sent outside any
transaction, so a slow SMS provider never holds a database lock; a process that dies mid-send
leaves a lease that expires and another attempt picks it up (at least once, never lost).

A database outage pauses the loop (``LaneGuard.ride_out``): claiming waits for it, and results of
messages already sent are kept in memory and recorded once it is back, so an outage does not
make anyone receive the same SMS twice (unless it outlasts the lease and another process
claims the row meanwhile).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select

from dispatcher.clock import Clock
from dispatcher.lane_guard import LaneGuard
from dispatcher.notifier.channels import Channel, backoff
from dispatcher.notifier.errors import NotifierError
from dispatcher.store.database import Database
from dispatcher.store.models import OutboxMessage, TimelineEntry

log = structlog.get_logger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class _Result:
    status: str  # sent | pending (retry later) | failed
    error: str | None
    provider_id: str | None = None
    retry_at: datetime | None = None


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
        self.channels = channels
        self.clock = clock
        self.batch = batch
        self.idle_sleep_s = idle_sleep_s
        self.guard = guard or LaneGuard()
        self.sent = 0

    async def _claim(self) -> list[OutboxMessage]:
        now = self.clock()
        async with self.db.session() as s:
            stmt = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.status.in_(("pending", "sending")),
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(OutboxMessage.next_attempt_at)
                .limit(self.batch)
            )
            rows = list((await s.execute(self.db.lock_rows(stmt))).scalars())
            for row in rows:
                row.status, row.attempts = "sending", row.attempts + 1
                row.next_attempt_at = now + LEASE
        return rows

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

    async def _send(self, row: OutboxMessage) -> _Result:
        channel = self.channels.get(row.channel)
        if channel is None:
            return _Result("failed", f"no channel named {row.channel!r}")
        try:
            sent = await channel.send(row.recipient, row.body)
        except NotifierError as exc:
            if exc.retryable and row.attempts < MAX_ATTEMPTS:
                return _Result("pending", str(exc), retry_at=self.clock() + backoff(row.attempts))
            return _Result("failed", str(exc))
        return _Result("sent", None, provider_id=sent.provider_id)

    async def _record(self, rows: list[OutboxMessage], results: list[_Result]) -> None:
        now = self.clock()
        async with self.db.session() as s:
            for row, result in zip(rows, results, strict=True):
                fresh = await s.get_one(OutboxMessage, row.id)
                fresh.status, fresh.last_error = result.status, result.error
                fresh.provider_id = result.provider_id
                if result.retry_at is not None:
                    fresh.next_attempt_at = result.retry_at
                if result.status == "sent":
                    fresh.sent_at = now
                if result.status == "failed" and row.incident_id is not None:
                    # Operators must know a helper or family member was NOT reached.
                    s.add(
                        TimelineEntry(
                            incident_id=row.incident_id,
                            at=now,
                            actor="system",
                            action="notification_failed",
                            detail={
                                "outbox_id": row.id,
                                "purpose": row.purpose,
                                "recipient": row.recipient,
                                "error": result.error,
                            },
                        )
                    )
        for row, result in zip(rows, results, strict=True):
            bound = log.bind(outbox_id=row.id, incident_id=row.incident_id, purpose=row.purpose)
            if result.status == "sent":
                self.sent += 1
                bound.info("notification_sent", channel=row.channel, provider_id=result.provider_id)
            else:
                bound.warning(
                    "notification_not_sent",
                    status=result.status,
                    error=result.error,
                    attempts=row.attempts,
                )

    async def run(self) -> None:
        log.info("outbox_loop_started", channels=sorted(self.channels))
        while True:
            if await self._tick(guarded=True) == 0:
                await asyncio.sleep(self.idle_sleep_s)
