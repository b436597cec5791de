"""The outbox loop: every notification is a row first, then sent, retried with backoff.

Rows are claimed with a lease (status ``sending`` until ``next_attempt_at``) and sent outside any
transaction, so a slow SMS provider never holds a database lock; a process that dies mid-send
leaves a lease that expires and another attempt picks it up (at least once, never lost).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from sqlalchemy import select

from dispatcher.clock import Clock
from dispatcher.notifier.channels import Channel, backoff
from dispatcher.notifier.errors import NotifierError
from dispatcher.store.database import Database
from dispatcher.store.models import OutboxMessage, TimelineEntry

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
    ) -> None:
        self.db = db
        self.channels = channels
        self.clock = clock
        self.batch = batch
        self.idle_sleep_s = idle_sleep_s
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
        """Send what is due; return how many rows were attempted."""
        rows = await self._claim()
        for row in rows:
            await self._send(row)
        return len(rows)

    async def _send(self, row: OutboxMessage) -> None:
        bound = log.bind(outbox_id=row.id, incident_id=row.incident_id, purpose=row.purpose)
        channel = self.channels.get(row.channel)
        status: str
        error: str | None = None
        provider_id: str | None = None
        retry_at = None
        if channel is None:
            status, error = "failed", f"no channel named {row.channel!r}"
        else:
            try:
                result = await channel.send(row.recipient, row.body)
            except NotifierError as exc:
                error = str(exc)
                if exc.retryable and row.attempts < MAX_ATTEMPTS:
                    status, retry_at = "pending", self.clock() + backoff(row.attempts)
                else:
                    status = "failed"
            else:
                status, provider_id = "sent", result.provider_id
        now = self.clock()
        async with self.db.session() as s:
            fresh = await s.get_one(OutboxMessage, row.id)
            fresh.status, fresh.last_error, fresh.provider_id = status, error, provider_id
            if retry_at is not None:
                fresh.next_attempt_at = retry_at
            if status == "sent":
                fresh.sent_at = now
            if status == "failed" and row.incident_id is not None:
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
                            "error": error,
                        },
                    )
                )
        if status == "sent":
            self.sent += 1
            bound.info("notification_sent", channel=row.channel, provider_id=provider_id)
        else:
            bound.warning(
                "notification_not_sent", status=status, error=error, attempts=row.attempts
            )

    async def run(self) -> None:
        log.info("outbox_loop_started", channels=sorted(self.channels))
        while True:
            if await self.tick() == 0:
                await asyncio.sleep(self.idle_sleep_s)
