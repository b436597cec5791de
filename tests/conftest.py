"""Shared fixtures: real databases (SQLite and PostgreSQL) and a real MQTT broker.

Under ``CI=true`` a missing service fails the test; elsewhere it is skipped with the reason shown,
so a developer without PostgreSQL still runs everything else.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from dispatcher.mqtt import EmbeddedBroker
from dispatcher.store.database import Database
from dispatcher.store.migrate import upgrade

# The recording stand-in for Twilio, usable from any test.
pytest_plugins = ["tests.support.twilio_server"]

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def service_missing(what: str) -> None:
    """Fail under CI (a missing service must never pass silently), skip with reason elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is required under CI=true but is not available")
    pytest.skip(f"{what} not available (set it up, or run under CI=true to make this a failure)")


def postgres_url() -> str:
    return os.environ.get("HUYUAN_TEST_DATABASE_URL", DEFAULT_PG)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: a SQLite file, or a fresh schema in the test PostgreSQL."""
    if request.param == "sqlite":
        async with Database(f"sqlite+aiosqlite:///{tmp_path / 'huyuan.db'}") as db:
            await upgrade(db)
            yield db
        return
    url = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except (OSError, SQLAlchemyError) as exc:
        await admin.dispose()
        service_missing(f"PostgreSQL at {url} ({exc})")
    try:
        async with Database(url, schema=schema) as db:
            await upgrade(db)
            yield db
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    """A real broker: HUYUAN_TEST_MQTT_URL, else a mosquitto we start, else the embedded one."""
    url = os.environ.get("HUYUAN_TEST_MQTT_URL")
    if url:
        host, _, port = url.split("://", 1)[-1].rpartition(":")
        if not _reachable(host, int(port)):
            service_missing(f"MQTT broker at {url}")
        yield url
        return
    # The broker lives on its own loop in a thread: the amqtt fallback runs in-process and must
    # keep serving while each test's own event loop comes and goes.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    broker = EmbeddedBroker()
    asyncio.run_coroutine_threadsafe(broker.__aenter__(), loop).result(timeout=30)
    try:
        yield broker.url
    finally:
        asyncio.run_coroutine_threadsafe(broker.__aexit__(None, None, None), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
