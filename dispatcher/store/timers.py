"""Timers' rows for the SLA timer loop: claim the next one due, and when the next one is due.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two server processes never
fire the same timer. Timers are armed by ``IncidentRepository.arm_timer`` and fired (and marked)
by the workflow.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from dispatcher.store import Session
from dispatcher.store.database import Database
from dispatcher.store.incidents import due_timers_query
from dispatcher.store.models import Timer

__all__ = ["claim_due_timer", "mark_fired", "next_due_at"]


async def claim_due_timer(s: Session, db: Database, now: datetime) -> Timer | None:
    """The earliest timer due at ``now`` that no other process holds, locked for this one."""
    return (await s.execute(db.lock_rows(due_timers_query(now, 1)))).scalar()


async def next_due_at(s: Session) -> datetime | None:
    """When the earliest unfired timer is due; None when none is armed."""
    return (
        await s.execute(select(func.min(Timer.due_at)).where(Timer.fired_at.is_(None)))
    ).scalar()


async def mark_fired(s: Session, timer_id: int, now: datetime) -> None:
    """Mark a timer done without acting on it (one set aside after it failed)."""
    await s.execute(update(Timer).where(Timer.id == timer_id).values(fired_at=now))
