"""The outbox's rows: claimed with a lease, settled with what the send did, listed for operators.

A row moves ``pending`` → ``sending`` (claimed until ``next_attempt_at``) → ``sent``, back to
``pending`` (a retry, later) or ``failed``; a lease that runs out makes a ``sending`` row due
again. A failure on an incident's message is also put on its timeline: operators must know a
helper or family member was NOT reached. Rows are queued by ``IncidentRepository.queue_message``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from dispatcher.store import Session
from dispatcher.store.database import Database
from dispatcher.store.models import OutboxMessage, OutboxStatus, TimelineEntry

__all__ = ["DUE", "Attempt", "OutboxStatus", "OutboxStore", "recent_messages"]

DUE = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
"""Statuses of rows that are due once ``next_attempt_at`` has come (a lapsed lease included)."""


@dataclass(frozen=True)
class Attempt:
    """What one send did: sent, pending (retry at ``retry_at``) or failed, and why not."""

    status: OutboxStatus
    error: str | None
    provider_id: str | None = None
    retry_at: datetime | None = None


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self, s: Session, now: datetime, *, limit: int, lease: timedelta
    ) -> list[OutboxMessage]:
        """The due rows, oldest first, leased to this process until ``now + lease``."""
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.status.in_(DUE), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at)
            .limit(limit)
        )
        rows = list((await s.execute(self.db.lock_rows(stmt))).scalars())
        for row in rows:
            row.status, row.attempts = OutboxStatus.SENDING.value, row.attempts + 1
            row.next_attempt_at = now + lease
        return rows

    async def settle(
        self, s: Session, message: OutboxMessage, attempt: Attempt, now: datetime
    ) -> None:
        """Record the attempt on the row as it is now (not as it was claimed)."""
        fresh = await s.get_one(OutboxMessage, message.id)
        fresh.status, fresh.last_error = attempt.status.value, attempt.error
        fresh.provider_id = attempt.provider_id
        if attempt.retry_at is not None:
            fresh.next_attempt_at = attempt.retry_at
        if attempt.status is OutboxStatus.SENT:
            fresh.sent_at = now
        if attempt.status is OutboxStatus.FAILED and message.incident_id is not None:
            s.add(
                TimelineEntry(
                    incident_id=message.incident_id,
                    at=now,
                    actor="system",
                    action="notification_failed",
                    detail={
                        "outbox_id": message.id,
                        "purpose": message.purpose,
                        "recipient": message.recipient,
                        "error": attempt.error,
                    },
                )
            )


async def recent_messages(
    s: Session, incident_id: int | None, limit: int
) -> Sequence[OutboxMessage]:
    """Notifications, newest first, of one incident or of all."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if incident_id is not None:
        stmt = stmt.where(OutboxMessage.incident_id == incident_id)
    return (await s.execute(stmt)).scalars().all()
