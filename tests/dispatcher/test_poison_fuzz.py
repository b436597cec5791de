"""The poison fuzz, bounded: hostile frames through the real broker into a real running server.

``bench/poison_fuzz.py`` runs 20,000 frames against a child server process; here the same run,
``HUYUAN_TEST_FUZZ_N`` frames (600 by default) with a fixed seed (``HUYUAN_TEST_FUZZ_SEED``
to vary it), against a ``Server`` in this process on PostgreSQL, so ``make test`` proves the
server survives them, keeps each one, and still answers an SOS afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.poison_fuzz import run_fuzz
from dispatcher.server import Server
from dispatcher.settings import Settings
from tests.conftest import free_port, postgres_url
from tests.support.services import service_missing

pytestmark = pytest.mark.integration

N = int(os.environ.get("HUYUAN_TEST_FUZZ_N", "600"))
SEED = int(os.environ.get("HUYUAN_TEST_FUZZ_SEED", "20261124"))


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A fresh schema in the test PostgreSQL, dropped afterwards."""
    schema = f"f_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(postgres_url())
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any connection failure means the service is missing
        await admin.dispose()
        service_missing(f"PostgreSQL ({exc})")
    try:
        yield schema
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def test_hostile_frames_on_every_topic_never_stop_the_server(
    mqtt_url: str, pg_schema: str, tmp_path: Path
) -> None:
    """Every fuzz frame is stored or dead-lettered, the server stays up, and an SOS gets its ack."""
    tag = uuid.uuid4().hex[:8]
    server = Server(
        Settings(
            database_url=postgres_url(),
            database_schema=pg_schema,
            mqtt_url=mqtt_url,
            node_id=f"fuzz-{tag}",
            mqtt_shared_group=f"fuzz{tag}",
            mqtt_session_expiry_s=300,
            http_port=free_port(),
            data_dir=tmp_path,
            api_tokens="",
            log_level="WARNING",
        )
    )
    run = asyncio.create_task(server.run())
    await asyncio.wait_for(server.started.wait(), 60)
    assert server.endpoints is not None
    figures = await run_fuzz(
        api=server.endpoints.api,
        mqtt_url=mqtt_url,
        database_url=postgres_url(),
        schema=pg_schema,
        n=N,
        seed=SEED,
        alive=lambda: not run.done(),
    )
    print("\n" + figures.report())
    assert not run.done(), "the server ended"
    server.request_stop()
    await asyncio.wait_for(run, 60)
    assert figures.sent == N and not figures.crashed
    assert figures.unaccounted == []  # every refused frame is a dead letter
    assert figures.sos_after == "accepted"
    assert figures.not_ready == 0
