"""Live mode's people: helpers answering offers over the REST API, and the operator's hand.

Helpers watch the open incidents (standing in for the SMS link or the helper app), answer each
offer with the request's drawn answer — the very dice fast mode uses — after its delay in
scenario time, travel toward the elder at their mode's speed while reporting their position
(``PUT /helpers/{id}/location``), check in, stay the service time and close the case. An answer
drawn slower than the offer timeout is never sent: the server's clock expires it.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

import httpx

from simulator.demand import MAX_ATTEMPTS, Request
from simulator.district import Helper

__all__ = ["Crew", "CrewStats"]

_REPORT_EVERY_S = 60.0  # scenario seconds between position reports on the way


@dataclass
class CrewStats:
    accepted: int = 0
    declined: int = 0
    unanswered: int = 0
    arrived: int = 0
    resolved: int = 0
    location_reports: int = 0
    http_errors: dict[str, int] = field(default_factory=dict)


@dataclass
class _Where:
    lat: float
    lon: float


class Crew:
    def __init__(
        self,
        http: httpx.AsyncClient,
        helpers: dict[int, Helper],
        *,
        speed: float,
        accept_p: dict[str, float],
        offer_timeout_s: dict[bool, float],
    ) -> None:
        self.http, self.helpers, self.speed = http, helpers, speed
        self.accept_p, self.offer_timeout_s = accept_p, offer_timeout_s
        self.where = {hid: _Where(h.lat, h.lon) for hid, h in helpers.items()}
        self.requests: dict[int, Request] = {}  # incident id -> the request behind it
        self.seen_offers: set[int] = set()
        self.offers_per_incident: dict[int, int] = {}
        self.stats = CrewStats()

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        r = await self.http.post(path, json=body)
        if r.status_code >= 400:
            key = f"{path.rsplit('/', 1)[-1]} {r.status_code}"
            self.stats.http_errors[key] = self.stats.http_errors.get(key, 0) + 1
        return r

    async def watch(self, poll_s: float) -> None:
        """Find new pending offers on our incidents and answer each in its own task."""
        async with asyncio.TaskGroup() as tg:
            while True:
                r = await self.http.get("/api/v1/incidents", params={"limit": 1000})
                for inc in r.json():
                    if inc["state"] == "offered" and inc["id"] in self.requests:
                        detail = (await self.http.get(f"/api/v1/incidents/{inc['id']}")).json()
                        for offer in detail["offers"]:
                            if offer["status"] == "pending" and offer["id"] not in self.seen_offers:
                                self.seen_offers.add(offer["id"])
                                tg.create_task(self._answer(detail, offer))
                await asyncio.sleep(poll_s)

    async def _answer(self, incident: dict[str, Any], offer: dict[str, Any]) -> None:
        iid, hid = incident["id"], offer["helper_id"]
        helper, req = self.helpers.get(hid), self.requests[iid]
        if helper is None:
            return  # somebody else's helper on a shared server
        n = self.offers_per_incident.get(iid, 0)
        self.offers_per_incident[iid] = n + 1
        answer = req.answers[min(n, MAX_ATTEMPTS - 1)]
        if answer.delay_s >= self.offer_timeout_s[req.emergency]:
            self.stats.unanswered += 1
            return
        await asyncio.sleep(answer.delay_s / self.speed)
        if answer.u >= self.accept_p[helper.role]:
            self.stats.declined += 1
            await self._post(f"/api/v1/incidents/{iid}/decline", {"helper_id": hid})
            return
        if (await self._post(f"/api/v1/incidents/{iid}/accept", {"helper_id": hid})).is_error:
            return
        self.stats.accepted += 1
        await self._travel(hid, incident, offer["eta_s"] * req.travel_factor)
        r = await self._post(f"/api/v1/incidents/{iid}/arrived", {"helper_id": hid})
        if r.is_error:
            return  # a false alarm confirmed on the way: the helper turns back
        self.stats.arrived += 1
        await asyncio.sleep(req.service_s / self.speed)
        body = {"helper_id": hid, "outcome": "已上门处置 / handled on site"}
        if not (await self._post(f"/api/v1/incidents/{iid}/resolve", body)).is_error:
            self.stats.resolved += 1

    async def _travel(self, hid: int, incident: dict[str, Any], total_s: float) -> None:
        """Move toward the elder in a straight line, reporting the position as we go."""
        start, goal = self.where[hid], (incident["lat"], incident["lon"])
        lat0, lon0 = start.lat, start.lon
        steps = max(1, math.ceil(total_s / _REPORT_EVERY_S))
        for k in range(1, steps + 1):
            await asyncio.sleep(total_s / steps / self.speed)
            f = k / steps
            start.lat, start.lon = lat0 + f * (goal[0] - lat0), lon0 + f * (goal[1] - lon0)
            await self.report(hid)

    async def report(self, hid: int) -> None:
        pos = self.where[hid]
        r = await self.http.put(
            f"/api/v1/helpers/{hid}/location", json={"lat": pos.lat, "lon": pos.lon}
        )
        if not r.is_error:
            self.stats.location_reports += 1

    async def keep_fresh(self, every_real_s: float) -> None:
        """Idle helpers' apps report too: the server ignores fixes older than 15 minutes."""
        while True:
            await asyncio.sleep(every_real_s)
            for hid in self.helpers:
                await self.report(hid)

    async def duty(self, windows: list[tuple[float, int, bool]], sim_now: Any) -> None:
        """Go on and off duty at the scenario times of ``windows`` (t, helper id, on)."""
        for t, hid, on in windows:
            wait = (t - sim_now()) / self.speed
            if wait > 0:
                await asyncio.sleep(wait)
            await self._post(f"/api/v1/helpers/{hid}/duty", {"on_duty": on})
            if on:
                h = self.helpers[hid]
                self.where[hid] = _Where(h.lat, h.lon)
                await self.report(hid)
