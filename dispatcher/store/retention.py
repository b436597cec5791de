"""Pruning the high-volume history to what ``Retention`` keeps.

Incidents, their timelines and the outbox are the service's record and are never pruned here;
telemetry history, dedupe ids, dead letters and fired timers would otherwise grow without bound.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from dispatcher.retention import Retention
from dispatcher.store import Session
from dispatcher.store.models import DeadLetter, ReceivedMessage, TelemetryEvent, Timer

__all__ = ["prune"]


async def prune(s: Session, now: datetime, keep: Retention) -> dict[str, int]:
    """Delete what is older than ``keep`` says; return how many rows of each kind went."""
    statements = {
        "telemetry": delete(TelemetryEvent).where(
            TelemetryEvent.received_at < now - keep.telemetry
        ),
        "dedupe_ids": delete(ReceivedMessage).where(
            ReceivedMessage.received_at < now - keep.dedupe_ids
        ),
        "dead_letters": delete(DeadLetter).where(DeadLetter.received_at < now - keep.dead_letters),
        "fired_timers": delete(Timer).where(
            Timer.fired_at.is_not(None), Timer.fired_at < now - keep.fired_timers
        ),
    }
    counts = {}
    for name, stmt in statements.items():
        result = await s.execute(stmt.execution_options(synchronize_session=False))
        counts[name] = int(getattr(result, "rowcount", 0) or 0)
    return counts
