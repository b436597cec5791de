"""Riding out database faults: PostgreSQL cut behind a TCP proxy while a real server works.

A real ``Server`` (in this process), the real broker, PostgreSQL reached through
``tests.support.tcp_proxy.TcpProxy``. The proxy is cut during a burst of SOS and telemetry and
restored ``HUYUAN_TEST_OUTAGE_S`` seconds later (6 by default, to keep ``make test`` short;
``HUYUAN_TEST_OUTAGE_S=20`` runs issue 7's twenty seconds). The real PostgreSQL is never touched.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from device_protocol import Kind, topic_for
from dispatcher.server import Server
from dispatcher.settings import Settings
from dispatcher.store.database import Database
from dispatcher.store.models import DeadLetter, Incident, ReceivedMessage, TelemetryEvent
from tests.conftest import free_port, postgres_url
from tests.support.devices import Fleet, fleet, register
from tests.support.hostile_messages import encode_json, valid_body
from tests.support.services import service_missing
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

OUTAGE_S = float(os.environ.get("HUYUAN_TEST_OUTAGE_S", "6"))
WAIT_S = 180 + 2 * OUTAGE_S  # generous: conditions are awaited, never timed


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    """A fresh schema in the test PostgreSQL, dropped afterwards."""
    schema = f"o_{uuid.uuid4().hex[:12]}"
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


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    url = make_url(postgres_url())
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as p:
        yield p


def settings_for(mqtt_url: str, proxy: TcpProxy, schema: str, tmp_path: Path) -> Settings:
    url = make_url(postgres_url()).set(host="127.0.0.1", port=proxy.port)
    tag = uuid.uuid4().hex[:8]
    return Settings(
        database_url=url.render_as_string(hide_password=False),
        database_schema=schema,
        mqtt_url=mqtt_url,
        node_id=f"outage-{tag}",
        mqtt_shared_group=f"outage{tag}",
        mqtt_session_expiry_s=600,
        http_port=free_port(),
        data_dir=tmp_path,
        api_tokens="",
        log_level="WARNING",
    )


async def wait_until(
    what: str, condition: Callable[[], Awaitable[bool]], timeout_s: float = WAIT_S
) -> None:
    """Poll an async condition until it holds; fail with ``what`` if it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"gave up waiting ({timeout_s:.0f} s): {what}")


async def counts(url: str, schema: str) -> dict[str, int]:
    async with Database(url, schema=schema) as db, db.read_session() as s:
        out = {}
        for name, model in (
            ("sos", ReceivedMessage),
            ("telemetry", TelemetryEvent),
            ("incidents", Incident),
            ("dead", DeadLetter),
        ):
            out[name] = int((await s.execute(select(func.count()).select_from(model))).scalar_one())
        per_device = (
            await s.execute(select(Incident.device_id, func.count()).group_by(Incident.device_id))
        ).all()
        out["most_incidents_per_device"] = max((n for _, n in per_device), default=0)
        return out


async def test_a_database_outage_during_a_burst_is_ridden_out_and_nothing_is_lost(
    mqtt_url: str, proxy: TcpProxy, pg_schema: str, tmp_path: Path
) -> None:
    """Cut mid-burst: the server stays up, says not ready, resumes alone; sent = stored, once."""
    settings = settings_for(mqtt_url, proxy, pg_schema, tmp_path)
    server = Server(settings)
    run = asyncio.create_task(server.run())
    await asyncio.wait_for(server.started.wait(), 60)
    assert server.endpoints is not None
    api = server.endpoints.api
    devices = fleet("od", 40)
    await asyncio.to_thread(register, api, devices)

    now = datetime.now(UTC)
    sos = [
        (topic_for(d, Kind.SOS), encode_json(valid_body(Kind.SOS, d, f"sos-{d}", now)))
        for d in devices
    ]
    telemetry = [
        (
            topic_for(devices[i % len(devices)], kind),
            encode_json(valid_body(kind, devices[i % len(devices)], f"tel-{i}", now)),
        )
        for i, kind in enumerate([Kind.LOCATION, Kind.HEARTBEAT, Kind.VITALS] * 500)
    ]
    # The SOS are spread through the telemetry: some before the cut, most during it.
    burst = list(telemetry)
    for i, message in enumerate(sos):
        burst.insert(i * len(telemetry) // len(sos) + i, message)
    devices_out = Fleet(mqtt_url, devices)
    statuses: list[int] = []
    cut_at: list[float] = []
    restored_at: list[float] = []
    ready_again_at: list[float] = []

    def cut_and_restore(n: int) -> None:
        if n == len(burst) // 8:
            proxy.cut()
            cut_at.append(time.monotonic())

    publisher = asyncio.create_task(
        asyncio.to_thread(devices_out.publish, burst, rate=200, pace=cut_and_restore)
    )
    try:
        async with httpx.AsyncClient(base_url=api, timeout=10) as http:

            async def not_ready() -> bool:
                statuses.append((await http.get("/readyz")).status_code)
                return statuses[-1] == 503

            async def cut() -> bool:
                return bool(cut_at)

            await wait_until("the proxy is cut", cut)
            await wait_until("/readyz says not ready during the outage", not_ready)
            await asyncio.sleep(max(0.0, cut_at[0] + OUTAGE_S - time.monotonic()))
            assert not run.done(), "the server ended during the outage"
            proxy.restore()
            restored_at.append(time.monotonic())

            async def ready() -> bool:
                statuses.append((await http.get("/readyz")).status_code)
                if statuses[-1] == 200:
                    ready_again_at.append(time.monotonic())
                return statuses[-1] == 200

            await wait_until("/readyz is ready again after the database returns", ready)
            sent = await publisher
            assert sent == len(burst)
            url = make_url(postgres_url()).render_as_string(hide_password=False)

            async def all_stored() -> bool:
                c = await counts(url, pg_schema)
                return c["sos"] >= len(sos) and c["telemetry"] >= len(telemetry)

            await wait_until("every message sent is stored", all_stored)
            stored = await counts(url, pg_schema)
            missing_acks = [
                d
                for d in devices
                if await asyncio.to_thread(devices_out.acks.wait_for, f"sos-{d}", 60) is None
            ]
            readyz = (await http.get("/readyz")).json()
    finally:
        devices_out.close()
        if not publisher.done():
            publisher.cancel()
    assert not run.done(), "the server ended"
    server.request_stop()
    await asyncio.wait_for(run, 60)

    print(
        f"\noutage {OUTAGE_S:.0f} s: sent {len(sos)} SOS + {len(telemetry)} telemetry; stored "
        f"{stored['sos']} + {stored['telemetry']}; incidents {stored['incidents']}; "
        f"not ready for {ready_again_at[0] - cut_at[0]:.1f} s (restored after "
        f"{restored_at[0] - cut_at[0]:.1f} s); counters {readyz['counters']}"
    )
    assert stored["sos"] == len(sos) and stored["telemetry"] == len(telemetry)  # sent = stored
    assert stored["incidents"] == len(devices) and stored["most_incidents_per_device"] == 1
    assert stored["dead"] == 0  # an outage is waited out, never dead-lettered
    assert missing_acks == []  # every device heard back
    assert readyz["counters"]["db_outages"] >= 1
    assert 503 in statuses and statuses[-1] == 200


async def test_a_server_started_while_the_database_is_down_waits_for_it(
    mqtt_url: str, proxy: TcpProxy, pg_schema: str, tmp_path: Path
) -> None:
    """Start-up with PostgreSQL unreachable retries with backoff and comes up once it answers."""
    proxy.cut()
    server = Server(settings_for(mqtt_url, proxy, pg_schema, tmp_path))
    run = asyncio.create_task(server.run())
    await asyncio.sleep(2)  # it tries, and keeps trying: neither started nor ended
    assert not run.done() and not server.started.is_set()
    proxy.restore()
    await asyncio.wait_for(server.started.wait(), 60)
    assert server.endpoints is not None
    async with httpx.AsyncClient(base_url=server.endpoints.api) as http:
        assert (await http.get("/readyz")).status_code == 200
    server.request_stop()
    await asyncio.wait_for(run, 60)


async def test_a_stop_request_ends_a_start_up_that_waits_for_the_database(
    mqtt_url: str, proxy: TcpProxy, pg_schema: str, tmp_path: Path
) -> None:
    """SIGTERM while waiting for an unreachable database still stops the server cleanly."""
    proxy.cut()
    server = Server(settings_for(mqtt_url, proxy, pg_schema, tmp_path))
    run = asyncio.create_task(server.run())
    await asyncio.sleep(1)
    server.request_stop()
    await asyncio.wait_for(run, 30)
    assert run.exception() is None and not server.started.is_set()
