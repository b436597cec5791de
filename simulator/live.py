"""Live mode: the scenario against a running server, through MQTT and HTTP only.

1. Load the district with the CSV import API (elders, devices, helpers) and learn the helpers'
   server ids. 2. Run the fleet (telemetry, SOS and falls over MQTT), the helpers and the
   operator (HTTP), and place each call of the request stream at its scenario time divided by
   ``speed``. 3. Let open incidents settle, then read every incident back and report what was
   observed: nothing is taken from the simulator's own bookkeeping that the server could have
   got wrong. With ``speed`` > 1 the server's own clocks (15/30 min, offer timeouts) still run
   in real time, so its SLA verdicts are easy to meet; the scenario-time figures (real durations
   x speed) are the ones to read against the promise.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import time
from dataclasses import dataclass
from typing import Any

import aiomqtt
import httpx

from simulator.demand import Request, requests
from simulator.district import DAY_S, District, Helper, generate
from simulator.district_csv import devices_csv, elders_csv, helpers_csv
from simulator.live_fleet import Fleet, host_port
from simulator.live_helpers import Crew
from simulator.live_report import Call, observe
from simulator.scenario import Scenario
from sla import DEFAULT_POLICY as SLA
from sla import Category

__all__ = ["LiveConfig", "run_live"]

_SUMMARIES = ("买菜 / shopping", "维修 / repairs", "陪护 / company", "取药 / medicine")


@dataclass(frozen=True)
class LiveConfig:
    scenario: Scenario
    api: str
    mqtt: str
    speed: float = 1.0
    duration_s: float | None = None  # real seconds of calls; default the scenario's days
    start_hour: float = 9.0
    settle_s: float = 30.0
    tag: int | None = None
    in_flight: int = 200
    max_rate: float = 500.0
    poll_s: float = 0.5
    api_token: str | None = None  # for a server with HUYUAN_API_TOKENS set


def _on_duty(h: Helper, t: float) -> bool:
    return any(a <= t < b for a, b in h.duty)


class _Live:
    def __init__(self, cfg: LiveConfig, http: httpx.AsyncClient) -> None:
        self.cfg, self.http = cfg, http
        self.tag = cfg.tag if cfg.tag is not None else int.from_bytes(os.urandom(3)) % 10**6
        self.rng = random.Random(f"huyuan-live:{cfg.scenario.seed}:{self.tag}")
        self.start_s = cfg.start_hour * 3600
        span = (
            cfg.duration_s * cfg.speed if cfg.duration_s is not None else cfg.scenario.days * DAY_S
        )
        self.span_s = span
        self.district: District = generate(
            cfg.scenario, days=math.ceil((self.start_s + span) / DAY_S), tag=self.tag
        )
        everything = requests(
            cfg.scenario, (self.start_s + span) / DAY_S, len(self.district.elders)
        )
        self.calls = [r for r in everything if r.t >= self.start_s]
        self.calls_made: list[Call] = []
        self.used: set[int] = set()
        self.t0 = 0.0

    def sim_now(self) -> float:
        return self.start_s + (time.monotonic() - self.t0) * self.cfg.speed

    async def load(self) -> dict[int, Helper]:
        on = {h.index for h in self.district.helpers if _on_duty(h, self.start_s)}
        for kind, body in (
            ("elders", elders_csv(self.district)),
            ("devices", devices_csv(self.district)),
            ("helpers", helpers_csv(self.district, on)),
        ):
            r = await self.http.post(
                f"/api/v1/import/{kind}", content=body, headers={"content-type": "text/csv"}
            )
            r.raise_for_status()
        by_ref = {h.ref: h for h in self.district.helpers}
        rows = (await self.http.get("/api/v1/helpers")).json()
        return {
            row["id"]: by_ref[row["external_ref"]] for row in rows if row["external_ref"] in by_ref
        }

    def _elder(self, wanted: int) -> int:
        # A second call from an elder with an open incident would join it, not open another:
        # each call of a run goes to an elder not called yet (the stream's choice if free).
        n = len(self.district.elders)
        for k in range(n):
            i = (wanted + k) % n
            if i not in self.used:
                self.used.add(i)
                return i
        return wanted

    async def _place(self, r: Request, fleet: Fleet, crew: Crew) -> None:
        e = self.district.elders[self._elder(r.elder)]
        call = Call(r, e.device_id, e.ref, time.time())
        self.calls_made.append(call)
        if r.emergency:
            _, acks = await fleet.press(e, r.kind, duplicate=self.rng.random() < 0.1)
            call.ack_incidents = {a["incident_id"] for a in acks if a.get("incident_id")}
            accepted = [a for a in acks if a["result"] == "accepted" and a.get("incident_id")]
            call.incident_id = accepted[0]["incident_id"] if accepted else None
        else:
            found = (await self.http.get("/api/v1/elders", params={"q": e.ref, "limit": 1})).json()
            body = {"elder_id": found[0]["id"], "summary": self.rng.choice(_SUMMARIES)}
            resp = await self.http.post("/api/v1/incidents", json={**body, "category": "general"})
            call.incident_id = resp.json()["id"] if resp.status_code == 201 else None
        if call.incident_id is None:
            call.error = "no incident"
            return
        crew.requests[call.incident_id] = r
        if r.cancel_after_s is None:
            return
        await asyncio.sleep(r.cancel_after_s / self.cfg.speed)
        if r.emergency:
            await fleet.press(e, r.kind, state="cancelled")
            await asyncio.sleep(r.confirm_after_s / self.cfg.speed)
        else:
            state = (await self.http.get(f"/api/v1/incidents/{call.incident_id}")).json()["state"]
            if state in ("on_scene", "resolved", "cancelled"):
                return  # too late to withdraw
        note = {"note": "device cancelled" if r.emergency else "elder withdrew the request"}
        await self.http.post(f"/api/v1/incidents/{call.incident_id}/false-alarm", json=note)

    async def _settle(self) -> None:
        ours = {c.incident_id for c in self.calls_made if c.incident_id is not None}
        deadline = time.monotonic() + self.cfg.settle_s
        while time.monotonic() < deadline:
            rows = (await self.http.get("/api/v1/incidents", params={"limit": 1000})).json()
            if not ours & {row["id"] for row in rows}:
                return
            await asyncio.sleep(0.5)

    async def run(self) -> dict[str, Any]:
        helpers = await self.load()
        tl = SLA.offer_timeout
        crew = Crew(
            self.http,
            helpers,
            speed=self.cfg.speed,
            accept_p={
                "social_worker": self.cfg.scenario.demand.accept_probability_worker,
                "volunteer": self.cfg.scenario.demand.accept_probability_volunteer,
            },
            offer_timeout_s={
                True: tl[Category.EMERGENCY].total_seconds(),
                False: tl[Category.GENERAL].total_seconds(),
            },
        )
        windows = sorted(
            (t, hid, on)
            for hid, h in helpers.items()
            for a, b in h.duty
            for t, on in ((a, True), (b, False))
            if self.start_s < t < self.start_s + self.span_s
        )
        before = (await self.http.get("/readyz")).json().get("counters", {})
        host, port = host_port(self.cfg.mqtt)
        async with aiomqtt.Client(
            host, port, identifier=f"sim-fleet-{self.tag}", max_inflight_messages=self.cfg.in_flight
        ) as client:
            fleet = Fleet(
                client,
                self.district.elders,
                speed=self.cfg.speed,
                rng=self.rng,
                in_flight=self.cfg.in_flight,
                max_rate=self.cfg.max_rate,
            )
            self.t0 = time.monotonic()
            async with asyncio.TaskGroup() as tg:
                background = [
                    tg.create_task(fleet.run()),
                    tg.create_task(crew.watch(self.cfg.poll_s)),
                    tg.create_task(crew.keep_fresh(300.0)),
                    tg.create_task(crew.duty(windows, self.sim_now)),
                ]
                async with asyncio.TaskGroup() as calls:
                    for r in self.calls:
                        wait = (r.t - self.sim_now()) / self.cfg.speed
                        if wait > 0:
                            await asyncio.sleep(wait)
                        calls.create_task(self._place(r, fleet, crew))
                calls_done = time.monotonic()
                await self._settle()
                for task in background:
                    task.cancel()
            elapsed = calls_done - self.t0
        after = (await self.http.get("/readyz")).json().get("counters", {})
        return await observe(
            self.http,
            self.calls_made,
            cfg=self.cfg,
            district=self.district,
            fleet=fleet,
            crew=crew,
            elapsed_s=elapsed,
            counters=(before, after),
        )


async def run_live(cfg: LiveConfig) -> dict[str, Any]:
    """Run ``cfg`` against the server and return the observed report (JSON-ready)."""
    headers = {"authorization": f"Bearer {cfg.api_token}"} if cfg.api_token else {}
    async with httpx.AsyncClient(base_url=cfg.api, timeout=120, headers=headers) as http:
        return await _Live(cfg, http).run()
