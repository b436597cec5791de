"""How long the high-volume history is kept; ``store/retention.py`` prunes what is older.

Incidents, their timelines and the outbox are the service's record and are never pruned;
telemetry history, dedupe ids, dead letters and fired timers would otherwise grow without bound
(a district's 14,000 devices report some 4 million times a day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Retention"]


@dataclass(frozen=True)
class Retention:
    telemetry: timedelta = timedelta(days=90)
    # Devices retry an SOS for minutes, not days: a week of ids catches every real duplicate.
    dedupe_ids: timedelta = timedelta(days=7)
    dead_letters: timedelta = timedelta(days=90)
    fired_timers: timedelta = timedelta(days=7)
