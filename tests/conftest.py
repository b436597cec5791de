"""Shared fixtures: real databases (SQLite and PostgreSQL) and a real MQTT broker.

The broker is HUYUAN_TEST_MQTT_URL when set (assumed mosquitto-class: MQTT 5, shared
subscriptions), else an ``EmbeddedBroker`` for the session (mosquitto, or amqtt without MQTT 5 or
shared subscriptions). Missing services follow ``service_missing``: fail under CI, skip elsewhere.
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

from dispatcher.mqtt import BrokerEndpoint, EmbeddedBroker, MqttError
from dispatcher.store.database import Database
from dispatcher.store.migrate import upgrade
from tests.dispatcher.mqtt.support import BrokerUnderTest
from tests.support.services import service_missing

# The recording stand-in for Twilio, usable from any test.
pytest_plugins = ["tests.support.twilio_server"]

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


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


def _reachable(url: str) -> bool:
    ep = BrokerEndpoint.parse(url)
    try:
        with socket.create_connection((ep.host, ep.port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def _session_broker() -> Iterator[BrokerUnderTest | str]:
    url = os.environ.get("HUYUAN_TEST_MQTT_URL")
    if url:
        yield BrokerUnderTest(url) if _reachable(url) else f"MQTT broker at {url}"
        return
    # The broker lives on its own loop in a thread: the amqtt fallback runs in-process and must
    # keep serving while each test's own event loop comes and goes.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-broker", daemon=True)
    thread.start()
    broker = EmbeddedBroker()
    try:
        asyncio.run_coroutine_threadsafe(broker.__aenter__(), loop).result(timeout=30)
    except MqttError as exc:
        yield f"an MQTT broker (none configured and none embeddable: {exc})"
    else:
        yield BrokerUnderTest(broker.url, broker.supports_v5, broker.supports_shared)
        asyncio.run_coroutine_threadsafe(broker.__aexit__(None, None, None), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture
def mqtt_broker(_session_broker: BrokerUnderTest | str) -> BrokerUnderTest:
    """A reachable broker (skipped, or failed under CI, when there is none)."""
    if isinstance(_session_broker, str):
        service_missing(_session_broker)
    assert isinstance(_session_broker, BrokerUnderTest)
    return _session_broker


@pytest.fixture
def mqtt_url(mqtt_broker: BrokerUnderTest) -> str:
    """``mqtt://host:port`` of a reachable broker."""
    return mqtt_broker.url


@pytest.fixture
def broker_url(mqtt_broker: BrokerUnderTest) -> str:
    """The same broker, for tests that only need its URL."""
    return mqtt_broker.url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
