"""Live mode against the real server process, broker and database: nothing lost or doubled."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from simulator.live import LiveConfig, run_live
from simulator.scenario import load
from tests.conftest import free_port

pytestmark = pytest.mark.integration

API_TOKEN = "sim-live-token"


@pytest.fixture
def server(broker_url: str, tmp_path: Path) -> Iterator[str]:
    tag = uuid.uuid4().hex[:10]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUYUAN_", "TWILIO_"))}
    env.update(
        {
            "HUYUAN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'live.db'}",
            "HUYUAN_MQTT_URL": broker_url,
            "HUYUAN_NODE_ID": f"sim-{tag}",
            "HUYUAN_MQTT_SHARED_GROUP": f"sim{tag}",
            "HUYUAN_MQTT_SESSION_EXPIRY_S": "300",
            "HUYUAN_HTTP_PORT": str(port),
            "HUYUAN_DATA_DIR": str(tmp_path / "data"),
            # At speed 60 the scenario's 60 s / 180 s offer timeouts are 1 s / 3 s.
            "HUYUAN_EMERGENCY_OFFER_TIMEOUT_S": "1",
            "HUYUAN_GENERAL_OFFER_TIMEOUT_S": "3",
            # A protected API, as in production: the simulator must present its token.
            "HUYUAN_API_TOKENS": API_TOKEN,
        }
    )
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dispatcher", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


async def _ready(api: str) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        for _ in range(300):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("server not ready")


async def test_short_live_run_loses_and_doubles_nothing(server: str, broker_url: str) -> None:
    """Ten seconds of the small scenario at 60x: every call an incident, exactly once."""
    await _ready(server)
    cfg = LiveConfig(
        scenario=load("small"),
        api=server,
        mqtt=broker_url,
        speed=60,
        duration_s=10,
        settle_s=10,
        max_rate=200,
        api_token=API_TOKEN,
    )
    result = await run_live(cfg)
    assert result["calls"] > 0
    assert result["lost"] == 0 and result["duplicated"] == 0, result
    assert sum(result["incidents_by_category"].values()) == result["calls"]
    assert result["ingest"]["telemetry_published"] > 0
    assert result["ingest"]["max_in_flight"] <= cfg.in_flight
