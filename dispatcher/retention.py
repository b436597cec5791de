"""How long the high-volume history is kept, and the pruning that enforces it.

Incidents, their timelines and the outbox are the service's record and are never pruned here;
telemetry history, dedupe ids, dead letters and fired timers would otherwise grow without bound
(a district's 14,000 devices report some 4 million times a day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from dispatcher.store.models import DeadLetter, ReceivedMessage, TelemetryEvent, Timer


@dataclass(frozen=True)
class Retention:
    telemetry: timedelta = timedelta(days=90)
    # Devices retry an SOS for minutes, not days: a week of ids catches every real duplicate.
    dedupe_ids: timedelta = timedelta(days=7)
    dead_letters: timedelta = timedelta(days=90)
    fired_timers: timedelta = timedelta(days=7)


async def prune(s: AsyncSession, now: datetime, keep: Retention) -> dict[str, int]:
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
