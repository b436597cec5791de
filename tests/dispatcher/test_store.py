"""The store's sessions: writers queue (emergencies first), readers never wait for them."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from dispatcher.store.database import Database, WriterGate
from dispatcher.store.models import Incident


async def test_reads_do_not_wait_for_a_writer(database: Database) -> None:
    """A screen reading the queue is not held up by a transaction that is busy writing."""
    async with database.session(), asyncio.timeout(5), database.read_session() as reader:
        count = (await reader.execute(select(func.count()).select_from(Incident))).scalar()
    assert count == 0


async def test_waiting_emergency_writers_go_first() -> None:
    """When the writer finishes, a waiting emergency gets the turn before earlier telemetry."""
    gate, order = WriterGate(), []
    await gate.acquire(priority=False)

    async def writer(name: str, priority: bool) -> None:
        await gate.acquire(priority)
        order.append(name)
        gate.release()

    telemetry = asyncio.create_task(writer("telemetry", False))
    await asyncio.sleep(0)
    sos = asyncio.create_task(writer("sos", True))
    await asyncio.sleep(0)
    gate.release()
    await asyncio.gather(telemetry, sos)
    assert order == ["sos", "telemetry"]
