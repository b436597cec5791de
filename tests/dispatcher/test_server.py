"""The composition root: readiness, and a crashing loop ending the whole process."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from dispatcher.notifier.channels import SendResult
from dispatcher.server import Server
from dispatcher.settings import Settings
from tests.conftest import free_port
from tests.dispatcher.district import ELDERS, HELPERS

pytestmark = pytest.mark.integration


class ExplodingChannel:
    """A channel with a bug: an unexpected exception, not a NotifierError."""

    name = "exploding"

    async def send(self, to: str, body: str) -> SendResult:
        raise RuntimeError("bug in a channel")

    async def aclose(self) -> None:
        return None


def settings_for(broker_url: str, tmp_path: Path) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'server.db'}",
        mqtt_url=broker_url,
        node_id=f"test-{tag}",
        mqtt_shared_group=f"test{tag}",
        mqtt_session_expiry_s=60,
        http_port=free_port(),
        data_dir=tmp_path,
    )


async def test_a_crashing_loop_stops_the_server_instead_of_limping_on(
    broker_url: str, tmp_path: Path
) -> None:
    """An unexpected error in the outbox loop ends Server.run with that error, not a half-server."""
    server = Server(settings_for(broker_url, tmp_path), channel=ExplodingChannel())
    run = asyncio.create_task(server.run())
    await asyncio.wait_for(server.started.wait(), 20)
    assert server.endpoints is not None
    async with httpx.AsyncClient(base_url=server.endpoints.api) as http:
        assert (await http.get("/readyz")).status_code == 200
        for kind, csv in (("elders", ELDERS), ("helpers", HELPERS)):
            r = await http.post(
                f"/api/v1/import/{kind}", content=csv, headers={"content-type": "text/csv"}
            )
            assert r.status_code == 200
        elder = (await http.get("/api/v1/elders")).json()[0]
        r = await http.post("/api/v1/incidents", json={"elder_id": elder["id"], "summary": "陪诊"})
        assert r.status_code == 201  # its SMS to the helper goes to the exploding channel
    with pytest.raises(ExceptionGroup) as failure:
        await asyncio.wait_for(run, 20)
    assert failure.value.subgroup(RuntimeError) is not None


async def test_request_stop_shuts_down_cleanly(broker_url: str, tmp_path: Path) -> None:
    """A stop request (what SIGTERM does) ends run() normally after every loop's cleanup."""
    server = Server(settings_for(broker_url, tmp_path))
    run = asyncio.create_task(server.run())
    await asyncio.wait_for(server.started.wait(), 20)
    server.request_stop()
    await asyncio.wait_for(run, 20)
    assert run.exception() is None
