"""The SLA timer loop: deadlines, offer expiries, escalations, device watchdog and pruning.

Timers are rows, so a restart resumes every clock and an overdue one fires at once. Each tick
claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) so two server processes never fire the
same timer. A database outage pauses the loop (``LaneGuard.ride_out``) and the overdue timers fire
as soon as it is back; ticking every second, the loop is also what notices an outage first when
no device is sending.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog

from dispatcher.clock import Clock
from dispatcher.lane_guard import LaneGuard
from dispatcher.retention import Retention
from dispatcher.store.database import Database, is_outage
from dispatcher.store.devices import mark_silent_devices_offline
from dispatcher.store.retention import prune
from dispatcher.store.timers import claim_due_timer, mark_fired, next_due_at
from dispatcher.workflow import Workflow

log = structlog.get_logger(__name__)


class TimerLoop:
    def __init__(
        self,
        db: Database,
        workflow: Workflow,
        clock: Clock,
        *,
        max_sleep_s: float = 1.0,
        watchdog_every: timedelta = timedelta(seconds=30),
        retention: Retention | None = None,
        prune_every: timedelta = timedelta(hours=1),
        guard: LaneGuard | None = None,
    ) -> None:
        self.db = db
        self.workflow = workflow
        self.clock = clock
        self.max_sleep_s = max_sleep_s
        self.watchdog_every = watchdog_every
        self.retention = retention
        self.prune_every = prune_every
        self.guard = guard or LaneGuard()
        self._next_watchdog = self._next_prune = clock()
        self.fired = 0
        self.failed = 0

    async def tick(self) -> int:
        """Fire every timer that is due now, one transaction per timer; return how many."""
        fired = 0
        while True:
            now = self.clock()
            claimed: tuple[int, int, str] | None = None
            try:
                async with self.db.session() as s:
                    timer = await claim_due_timer(s, self.db, now)
                    if timer is None:
                        break
                    claimed = (timer.id, timer.incident_id, timer.kind)
                    bound = log.bind(incident_id=timer.incident_id, timer_id=timer.id)
                    await self.workflow.fire(s, timer, now)
                    bound.info(
                        "timer_fired", kind=timer.kind, late_s=(now - timer.due_at).total_seconds()
                    )
            except Exception as exc:
                if claimed is None or is_outage(exc):
                    raise
                # A timer whose data trips a bug would fail again on every tick and restart:
                # set it aside, on the record, and keep every other clock running.
                await self._set_aside(*claimed, now, exc)
            fired += 1
        if self.clock() >= self._next_watchdog:
            async with self.db.session() as s:
                gone = await mark_silent_devices_offline(s, self.clock())
            if gone:
                log.warning("devices_offline", count=gone)
            self._next_watchdog = self.clock() + self.watchdog_every
        if self.retention is not None and self.clock() >= self._next_prune:
            async with self.db.session() as s:
                pruned = await prune(s, self.clock(), self.retention)
            if any(pruned.values()):
                log.info("pruned", **pruned)
            self._next_prune = self.clock() + self.prune_every
        self.fired += fired
        return fired

    async def _set_aside(
        self, timer_id: int, incident_id: int, kind: str, now: datetime, exc: Exception
    ) -> None:
        error = f"{type(exc).__name__}: {exc}"[:300]
        log.error(
            "timer_failed", timer_id=timer_id, incident_id=incident_id, kind=kind, error=error
        )
        async with self.db.session() as s:
            await mark_fired(s, timer_id, now)
            self.workflow.incidents.record(
                s, incident_id, now, "system", "timer_failed", {"kind": kind, "error": error}
            )
        self.failed += 1

    async def seconds_until_next(self) -> float:
        async with self.db.session() as s:
            due = await next_due_at(s)
        if due is None:
            return self.max_sleep_s
        return max(0.0, min(self.max_sleep_s, (due - self.clock()).total_seconds()))

    async def run(self) -> None:
        log.info("timer_loop_started")
        while True:
            await self.guard.ride_out("timers", self.tick)
            await asyncio.sleep(await self.guard.ride_out("timers", self.seconds_until_next))
