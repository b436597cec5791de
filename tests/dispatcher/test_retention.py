"""Pruning of high-volume history, driven by the timer loop with a hand-moved clock."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from dispatcher.clock import FakeClock
from dispatcher.ingest import Ingest
from dispatcher.retention import Retention
from dispatcher.store.database import Database
from dispatcher.store.models import Incident, ReceivedMessage, TelemetryEvent, TimelineEntry
from dispatcher.timers import TimerLoop
from dispatcher.vitals import VitalThresholds
from dispatcher.workflow import Workflow
from tests.dispatcher.district import T0, load
from tests.dispatcher.test_ingest import E1_DEVICE, FakeBroker, frame, sos


async def count(db: Database, model: type[object]) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_old_history_is_pruned_and_the_incident_record_is_kept(database: Database) -> None:
    """Telemetry and dedupe ids past their retention go; incidents and timelines stay."""
    await load(database)
    ingest = Ingest(database, Workflow(database), VitalThresholds(), clock=FakeClock(T0))
    await ingest.handle_emergency(sos("a1"), FakeBroker())
    await ingest.handle_telemetry(
        [frame("tel/heartbeat", E1_DEVICE, "h1", T0, battery_pct=80, charging=False,
               interval_s=60)],
        FakeBroker(),
    )  # fmt: skip
    clock = FakeClock(T0 + timedelta(days=8))
    keep = Retention(telemetry=timedelta(days=30), dedupe_ids=timedelta(days=7))
    await TimerLoop(database, Workflow(database), clock, retention=keep).tick()
    assert await count(database, ReceivedMessage) == 0  # a week old: no device retries that late
    assert await count(database, TelemetryEvent) == 1  # kept for 30 days
    clock.advance(timedelta(days=30))
    await TimerLoop(database, Workflow(database), clock, retention=keep).tick()
    assert await count(database, TelemetryEvent) == 0
    assert await count(database, Incident) == 1
    assert await count(database, TimelineEntry) > 0
