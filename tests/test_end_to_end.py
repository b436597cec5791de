"""End to end: the real server process, a real MQTT broker, a real database, the real twilio client.

Devices are real MQTT clients; the SMS provider is a local HTTP server that records what the
official twilio client sends it. Every test uses its own device ids, node id and shared group so
runs on a shared broker cannot hear each other.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import free_port, postgres_url
from tests.support.services import service_missing
from tests.support.twilio_server import TwilioServer

pytestmark = pytest.mark.integration

HELPERS_CSV = """ref,name,phone,role,skills,travel_mode,on_duty,lat,lon
H1,黄少卿,+8613700000001,social_worker,急救证,walk,true,23.3727,116.7000
H2,许木兴,+8613700000002,volunteer,陪护,ebike,true,23.3700,116.7147
H3,郑亚妹,+8613700000003,community_staff,,car,true,23.3850,116.7300
"""


@dataclass
class Run:
    """One test's world: its ids, its database and the server process (restartable)."""

    broker_url: str
    env: dict[str, str]
    api: str
    devices: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    logs: list[str] = field(default_factory=list)

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dispatcher", "serve"],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()

    async def wait_ready(self, limit_s: float = 30) -> None:
        async with httpx.AsyncClient(base_url=self.api) as http:
            for _ in range(int(limit_s * 10)):
                assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"server not ready:\n{self.log.read_text()}")

    def stop(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str | None]]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}", None
        return
    schema = f"e2e_{uuid.uuid4().hex[:10]}"

    async def ddl(sql: str) -> None:
        engine = create_async_engine(postgres_url())
        try:
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    try:
        asyncio.run(ddl(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any connection failure means the service is missing
        service_missing(f"PostgreSQL ({exc})")
    yield postgres_url(), schema
    asyncio.run(ddl(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def run(
    broker_url: str,
    database_url: tuple[str, str | None],
    twilio_server: TwilioServer,
    tmp_path: Path,
) -> Iterator[Run]:
    tag = uuid.uuid4().hex[:10]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUYUAN_", "TWILIO_"))}
    env.update(
        {
            "HUYUAN_DATABASE_URL": database_url[0],
            **({"HUYUAN_DATABASE_SCHEMA": database_url[1]} if database_url[1] else {}),
            "HUYUAN_MQTT_URL": broker_url,
            "HUYUAN_NODE_ID": f"e2e-{tag}",
            "HUYUAN_MQTT_SHARED_GROUP": f"e2e{tag}",
            "HUYUAN_MQTT_SESSION_EXPIRY_S": "300",
            "HUYUAN_HTTP_PORT": str(port),
            "HUYUAN_DATA_DIR": str(tmp_path / "data"),
            "HUYUAN_LOG_LEVEL": "INFO",
            "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "TWILIO_AUTH_TOKEN": "secret-token",
            "TWILIO_FROM_NUMBER": "+8675400000000",
            "TWILIO_API_BASE_URL": twilio_server.base_url,
        }
    )
    # Unique device ids (IMEI-like, 15 digits) per test: the broker may be shared.
    base = int(tag[:6], 16) % 10**6
    devices = [f"86{base:06d}{i:07d}" for i in (1, 2)]
    r = Run(broker_url, env, f"http://127.0.0.1:{port}", devices, tmp_path / "server.log")
    yield r
    if r.proc is not None and r.proc.poll() is None:
        r.proc.kill()
        r.proc.wait()


async def load_district(r: Run) -> None:
    elders = (
        "ref,name,age,address,lat,lon,contacts\n"
        "E1,陈秀英,82,汕头市龙湖区金涛社区3栋201房,23.3700,116.7000,陈国强|儿子|+8613900000001\n"
        "E2,林德明,77,汕头市龙湖区龙眼社区8栋502房,23.3550,116.7150,\n"
    )
    devices = f"device_id,elder_ref,model\n{r.devices[0]},E1,wristband\n{r.devices[1]},E2,handset\n"
    async with httpx.AsyncClient(base_url=r.api) as http:
        for kind, body in (("elders", elders), ("devices", devices), ("helpers", HELPERS_CSV)):
            resp = await http.post(
                f"/api/v1/import/{kind}", content=body, headers={"content-type": "text/csv"}
            )
            assert resp.status_code == 200, resp.text


def sos_payload(device_id: str, msg_id: str) -> bytes:
    return orjson.dumps(
        {
            "v": 1,
            "msg_id": msg_id,
            "device_id": device_id,
            "ts": datetime.now(UTC).isoformat(),
            "state": "raised",
            "trigger": "button",
            "battery_pct": 71,
            "location": {"lat": 23.3701, "lon": 116.7001, "acc_m": 8, "fix": "gnss"},
        }
    )


@asynccontextmanager
async def device_link(
    r: Run,
) -> AsyncIterator[tuple[aiomqtt.Client, asyncio.Queue[dict[str, Any]]]]:
    """A real MQTT client as the devices, with their acks collected in a queue."""
    host, _, port = r.broker_url.split("://", 1)[-1].rpartition(":")
    acks: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    async with aiomqtt.Client(host, int(port), identifier=f"dev-{uuid.uuid4().hex[:8]}") as client:
        for device in r.devices:
            await client.subscribe(f"hyt/v1/d/{device}/ack", qos=1)

        async def collect() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                await acks.put(orjson.loads(message.payload))

        task = asyncio.create_task(collect())
        try:
            yield client, acks
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def next_ack(acks: asyncio.Queue[dict[str, Any]], ack_of: str) -> dict[str, Any]:
    while True:
        ack = await asyncio.wait_for(acks.get(), timeout=20)
        if ack["ack_of"] == ack_of:
            return ack


async def get(r: Run, path: str) -> Any:
    async with httpx.AsyncClient(base_url=r.api) as http:
        resp = await http.get(path)
        assert resp.status_code == 200, resp.text
        return resp.json()


async def offered_incident(r: Run, incident_id: int) -> dict[str, Any] | None:
    """The incident once matching (which runs just after the device's ack) has made an offer."""
    incident: dict[str, Any] = await get(r, f"/api/v1/incidents/{incident_id}")
    return incident if incident["offers"] else None


async def eventually(check: Any, limit_s: float = 20) -> Any:
    """Poll ``check`` (an async callable) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


async def test_sos_reaches_the_nearest_helper_by_sms_and_the_device_hears_back(
    run: Run, twilio_server: TwilioServer
) -> None:
    """SOS over MQTT → incident, offer and SMS to the nearest helper, family SMS, device ack."""
    run.start()
    await run.wait_ready()
    await load_district(run)
    async with device_link(run) as (mqtt, acks):
        await mqtt.publish(
            f"hyt/v1/d/{run.devices[0]}/evt/sos", sos_payload(run.devices[0], "p1"), qos=1
        )
        ack = await next_ack(acks, "p1")
        assert ack["result"] == "accepted" and ack["incident_id"]
        incident = await eventually(lambda: offered_incident(run, ack["incident_id"]))
        assert incident["state"] == "offered" and incident["category"] == "emergency"
        assert incident["offers"][0]["status"] == "pending"
        created = datetime.fromisoformat(incident["created_at"])
        assert datetime.fromisoformat(incident["deadline"]) - created == timedelta(minutes=15)

        async def texts() -> dict[str, str]:
            sent = {r.form.get("To", ""): r.form.get("Body", "") for r in twilio_server.requests}
            return sent if {"+8613700000001", "+8613900000001"} <= sent.keys() else {}

        sent = await eventually(texts)
        assert "陈秀英" in sent["+8613700000001"]  # the nearest helper, H1, 300 m away
        outbox = await get(run, f"/api/v1/outbox?incident_id={ack['incident_id']}")
        assert {o["status"] for o in outbox} == {"sent"}
        assert all(o["provider_id"].startswith("SM") for o in outbox)

        # The same press again (a retry with the same msg_id): same incident, no second one.
        await mqtt.publish(
            f"hyt/v1/d/{run.devices[0]}/evt/sos", sos_payload(run.devices[0], "p1"), qos=1
        )
        again = await next_ack(acks, "p1")
        assert (again["result"], again["incident_id"]) == ("duplicate", ack["incident_id"])
        assert len(await get(run, "/api/v1/incidents")) == 1

        # Garbage on an SOS topic: dead-lettered, the server keeps serving.
        await mqtt.publish(f"hyt/v1/d/{run.devices[1]}/evt/sos", b"\xff\xfe garbage", qos=1)

        async def letters() -> list[dict[str, Any]]:
            return [
                d
                for d in await get(run, "/api/v1/dead-letters")
                if d["device_id"] == run.devices[1]
            ]

        (letter,) = await eventually(letters)
        assert "JSON" in letter["reason"]
        assert (await get(run, "/healthz")) == {"status": "ok"}
        await mqtt.publish(
            f"hyt/v1/d/{run.devices[1]}/evt/sos", sos_payload(run.devices[1], "p2"), qos=1
        )
        assert (await next_ack(acks, "p2"))["result"] == "accepted"
    assert run.stop(signal.SIGTERM) == 0


async def test_a_killed_server_resumes_every_clock_and_loses_no_press(run: Run) -> None:
    """SIGKILL with an offer pending: after restart the incident, deadline and offer are intact,
    the offer still expires on time, and an SOS sent while the server was down is handled."""
    run.env["HUYUAN_EMERGENCY_OFFER_TIMEOUT_S"] = "4"  # short, to see the clock run on restart
    run.start()
    await run.wait_ready()
    await load_district(run)
    async with device_link(run) as (mqtt, acks):
        await mqtt.publish(
            f"hyt/v1/d/{run.devices[0]}/evt/sos", sos_payload(run.devices[0], "k1"), qos=1
        )
        ack = await next_ack(acks, "k1")
        before = await eventually(lambda: offered_incident(run, ack["incident_id"]))
        assert run.proc is not None
        run.proc.kill()  # SIGKILL: no cleanup at all
        run.proc.wait()
        run.proc = None
        # Pressed while the server is down: the broker keeps it in our persistent session.
        await mqtt.publish(
            f"hyt/v1/d/{run.devices[1]}/evt/sos", sos_payload(run.devices[1], "k2"), qos=1
        )
        run.start()
        await run.wait_ready()
        after = await get(run, f"/api/v1/incidents/{ack['incident_id']}")
        assert after["deadline"] == before["deadline"]
        assert after["created_at"] == before["created_at"]
        assert after["offers"][0]["id"] == before["offers"][0]["id"]
        assert (await next_ack(acks, "k2"))["result"] == "accepted"

        async def moved_on() -> list[dict[str, Any]]:
            offers = (await get(run, f"/api/v1/incidents/{ack['incident_id']}"))["offers"]
            return offers if len(offers) == 2 else []

        first, second = await eventually(moved_on)  # the 4 s offer clock kept running
        assert (first["status"], second["status"]) == ("expired", "pending")
    assert run.stop(signal.SIGTERM) == 0
    assert "server_stopped" in run.log.read_text()
