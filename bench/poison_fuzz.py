"""Poison fuzz: a fresh seeded run of hostile device messages through the real broker and server.

Starts the real server as a child process (``python -m dispatcher serve``) on a fresh schema in
PostgreSQL (``HUYUAN_BENCH_DATABASE_URL``, else ``HUYUAN_TEST_DATABASE_URL``, else the local
test database) and a private mosquitto (or ``HUYUAN_BENCH_MQTT_URL``), registers a district,
then publishes ``BENCH_FUZZ_N`` (20,000) frames from ``tests.support.hostile_messages.Fuzzer``
with a fresh seed (or ``BENCH_FUZZ_SEED``) on every inbound topic, at QoS 1. Publishing is paced
to keep the server's backlog under 400 messages, inside any broker's default queue limit, so
nothing is dropped by the broker and every frame must be accounted for. Then one clean SOS.

Figures: frames sent, stored, dead-lettered (refused by the contract, or refused by the store
after a retry), unaccounted (neither stored nor dead-lettered: must be 0), server crashes (the
process ended: must be 0), /readyz answers that were not 200, and the SOS sent afterwards
(acknowledged, and how fast). ``run_fuzz`` is also what the bounded test in ``make test`` calls,
against a server in the test's own process.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from device_protocol import Kind, ProtocolError, decode, topic_for
from dispatcher.mqtt import EmbeddedBroker
from dispatcher.store.database import Database
from dispatcher.store.models import DeadLetter, ReceivedMessage, TelemetryEvent
from tests.support.devices import Fleet, fleet, register
from tests.support.hostile_messages import Frame, Fuzzer, encode_json, msg_key, valid_body

N = int(os.environ.get("BENCH_FUZZ_N", "20000"))
DEVICES = 50
MAX_BACKLOG = 400
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@dataclass
class Figures:
    seed: int
    sent: int = 0
    stored: int = 0
    dead_by_contract: int = 0
    dead_by_store: int = 0
    dead_letters: int = 0
    unaccounted: list[Frame] = field(default_factory=list)
    crashed: bool = False
    not_ready: int = 0
    sos_after: str | None = None
    sos_after_ms: float | None = None
    seconds: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.unaccounted and not self.crashed and self.sos_after == "accepted"

    def report(self) -> str:
        rate = self.sent / self.seconds if self.seconds else 0.0
        lines = [
            f"seed {self.seed}: {self.sent:,} hostile frames on every inbound topic "
            f"in {self.seconds:.1f} s ({rate:,.0f}/s, paced)",
            f"  stored (accepted or deduplicated):   {self.stored:8,}",
            f"  dead letters:                        {self.dead_letters:8,}  "
            f"({self.dead_by_contract:,} refused by the contract, {self.dead_by_store:,} after "
            f"decoding: unregistered devices, or refused by the store after a retry "
            f"({self.counters.get('messages_refused', 0):,}))",
            f"  unaccounted (neither):               {len(self.unaccounted):8,}",
            f"  server crashes:                      {int(self.crashed):8,}",
            f"  /readyz not ready during the run:    {self.not_ready:8,}",
            f"  retried once by the store:           {self.counters.get('messages_retried', 0):8,}",
            f"  SOS sent afterwards:                 {self.sos_after or 'no ack'}"
            + (f" in {self.sos_after_ms:.0f} ms" if self.sos_after_ms is not None else ""),
        ]
        for frame in self.unaccounted[:5]:
            lines.append(f"  UNACCOUNTED {frame.topic[:60]!r} {frame.note} {frame.payload[:80]!r}")
        return "\n".join(lines)


async def run_fuzz(
    *,
    api: str,
    mqtt_url: str,
    database_url: str,
    schema: str | None,
    n: int,
    seed: int,
    alive: Callable[[], bool],
    devices: int = DEVICES,
) -> Figures:
    """Register a district, publish ``n`` fuzz frames paced, account for each, then one SOS."""
    figures = Figures(seed=seed)
    ids = fleet("fz", devices)
    await asyncio.to_thread(register, api, ids)
    fuzzer = Fuzzer(seed, ids)
    started = datetime.now(UTC)
    frames = fuzzer.frames(n, started)
    out = Fleet(mqtt_url, ids)
    # A blocking client, used only from worker threads: the server may share this event loop.
    http = httpx.Client(base_url=api, timeout=30)
    base = await asyncio.to_thread(_finished, http, figures)

    def pace(sent: int) -> None:
        # Keep the server's backlog small: the broker's queue limit (1000 by default) must never
        # drop a QoS 1 frame, or "every refused message in dead letters" could not be checked.
        if sent % 50:
            return
        deadline = time.monotonic() + 300
        while sent - (_finished(http, figures) - base) > MAX_BACKLOG:
            if not alive():
                raise RuntimeError("the server ended")
            if time.monotonic() > deadline:
                raise RuntimeError("the server stopped taking messages")
            time.sleep(0.05)

    t0 = time.perf_counter()
    try:
        figures.sent = await asyncio.to_thread(
            out.publish, [(f.topic, f.payload) for f in frames], pace=pace
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and alive():
            if await asyncio.to_thread(_finished, http, figures) - base >= figures.sent:
                break
            await asyncio.sleep(0.1)
        figures.seconds = time.perf_counter() - t0
        figures.crashed = not alive()
        if not figures.crashed:
            device = ids[0]
            msg_id = f"after-{uuid.uuid4().hex[:10]}"
            body = encode_json(valid_body(Kind.SOS, device, msg_id, datetime.now(UTC)))
            t1 = time.perf_counter()
            await asyncio.to_thread(out.publish, [(topic_for(device, Kind.SOS), body)])
            ack = await asyncio.to_thread(out.acks.wait_for, msg_id, 60)
            if ack is not None:
                figures.sos_after = str(ack["result"])
                figures.sos_after_ms = (time.perf_counter() - t1) * 1000
            figures.counters = await asyncio.to_thread(_counters, http)
    finally:
        await asyncio.to_thread(_close, out, http)
    await _account(figures, frames, database_url, schema, started)
    return figures


def _counters(http: httpx.Client) -> dict[str, int]:
    return dict(http.get("/readyz").json()["counters"])


def _close(out: Fleet, http: httpx.Client) -> None:
    out.close()
    http.close()


def _finished(http: httpx.Client, figures: Figures) -> int:
    r = http.get("/readyz")
    if r.status_code != 200:
        figures.not_ready += 1
    return int(r.json()["counters"].get("messages_finished", 0))


async def _account(
    figures: Figures, frames: list[Frame], url: str, schema: str | None, at: datetime
) -> None:
    """Each frame stored, or kept as a dead letter; the contract's refusals must be dead letters."""
    async with Database(url, schema=schema) as db, db.read_session() as s:
        stored = {
            (d, m)
            for model in (ReceivedMessage, TelemetryEvent)
            for d, m in await s.execute(select(model.device_id, model.msg_id))
        }
        dead = {(t, p) for t, p in await s.execute(select(DeadLetter.topic, DeadLetter.payload))}
        figures.dead_letters = int(
            (await s.execute(select(func.count()).select_from(DeadLetter))).scalar_one()
        )
    for frame in frames:
        is_dead = (frame.topic, frame.payload) in dead
        try:
            decode(frame.topic, frame.payload, received_at=at)
        except ProtocolError:
            if is_dead:
                figures.dead_by_contract += 1
            else:
                figures.unaccounted.append(frame)
            continue
        if msg_key(frame) in stored:
            figures.stored += 1
        elif is_dead:
            figures.dead_by_store += 1
        else:
            figures.unaccounted.append(frame)


# ---- the benchmark: a child server process -----------------------------------------------------


async def _bench(mqtt_url: str, workdir: Path) -> Figures:
    url = os.environ.get("HUYUAN_BENCH_DATABASE_URL") or os.environ.get(
        "HUYUAN_TEST_DATABASE_URL", DEFAULT_PG
    )
    schema = f"fuzz_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    port = 19000 + os.getpid() % 1000
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUYUAN_", "TWILIO_"))}
    env.update(
        HUYUAN_MQTT_URL=mqtt_url,
        HUYUAN_HTTP_PORT=str(port),
        HUYUAN_DATABASE_URL=url,
        HUYUAN_DATABASE_SCHEMA=schema,
        HUYUAN_NODE_ID=f"fuzz-{uuid.uuid4().hex[:6]}",
        HUYUAN_MQTT_SHARED_GROUP=f"fuzz{uuid.uuid4().hex[:6]}",
        HUYUAN_MQTT_SESSION_EXPIRY_S="600",
        HUYUAN_LOG_LEVEL="ERROR",
        HUYUAN_DATA_DIR=str(workdir),
    )
    proc = _spawn(env, workdir)
    api = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(api, proc)
        seed = int(os.environ.get("BENCH_FUZZ_SEED") or random.SystemRandom().getrandbits(32))
        figures = await run_fuzz(
            api=api,
            mqtt_url=mqtt_url,
            database_url=url,
            schema=schema,
            n=N,
            seed=seed,
            alive=lambda: proc.poll() is None,
        )
    finally:
        if proc.poll() is None:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 60)
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
    if figures.crashed:
        print(f"  server exit code {proc.returncode}; log: {workdir / 'server.log'}")
    return figures


def _spawn(env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    with (workdir / "server.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "dispatcher", "serve"], env=env, stdout=log, stderr=log
        )


async def _wait_ready(api: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=api) as http:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError("server exited during start-up")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server not ready")


def run() -> None:
    async def main() -> Figures:
        with tempfile.TemporaryDirectory() as tmp:
            url = os.environ.get("HUYUAN_BENCH_MQTT_URL")
            if url:
                return await _bench(url, Path(tmp))
            async with EmbeddedBroker(data_dir=Path(tmp) / "broker") as broker:
                return await _bench(broker.url, Path(tmp))

    figures = asyncio.run(main())
    print(figures.report())
    print("  verdict:", "PASS" if figures.ok else "FAIL")


if __name__ == "__main__":
    run()
