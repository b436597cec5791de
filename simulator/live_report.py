"""What live mode saw: every incident read back from the server, counted and timed.

Lost: a call the server never turned into an incident (no accepted ack after every retry, a
refused request) or an incident it cannot show. Duplicated: one press answered with two
incident ids, two calls landing on one incident, or an incident on our devices nobody called.
Both must be zero. Times are measured on the server's own stamps (created, offered, responded,
arrived); scenario-time figures multiply them by the speed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from simulator.demand import Request
from simulator.district import District
from simulator.fast import bounds_of
from simulator.live_fleet import Fleet
from simulator.live_helpers import Crew
from simulator.metrics import Observed, summarise
from sla import nearest_rank

if TYPE_CHECKING:
    from simulator.live import LiveConfig

__all__ = ["Call", "observe"]


@dataclass
class Call:
    request: Request
    device_id: str
    elder_ref: str
    sent_at: float
    incident_id: int | None = None
    ack_incidents: set[int] = field(default_factory=set)
    error: str | None = None


def _t(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _percentiles(values: list[timedelta], speed: float) -> dict[str, Any]:
    values.sort()
    out: dict[str, Any] = {"n": len(values)}
    for p in (50, 90, 99):
        v = nearest_rank(values, p)
        out[f"p{p}_s"] = None if v is None else round(v.total_seconds(), 2)
        out[f"p{p}_scenario_min"] = None if v is None else round(v.total_seconds() * speed / 60, 2)
    return out


async def observe(
    http: httpx.AsyncClient,
    calls: list[Call],
    *,
    cfg: LiveConfig,
    district: District,
    fleet: Fleet,
    crew: Crew,
    elapsed_s: float,
    counters: tuple[dict[str, int], dict[str, int]],
) -> dict[str, Any]:
    """Read every incident back and build the report."""
    speed = cfg.speed
    lost = [c for c in calls if c.incident_id is None]
    duplicated = [c for c in calls if len(c.ack_incidents) > 1]
    per_incident = Counter(c.incident_id for c in calls if c.incident_id is not None)
    duplicated_ids = sorted(i for i, n in per_incident.items() if n > 1)
    ours = {e.device_id for e in district.elders}
    known = set(per_incident)
    rows = (await http.get("/api/v1/incidents", params={"status": "all", "limit": 1000})).json()
    unexpected = sorted(r["id"] for r in rows if r["device_id"] in ours and r["id"] not in known)
    to_offer: list[timedelta] = []
    to_accept: list[timedelta] = []
    to_arrive: list[timedelta] = []
    observed: list[Observed] = []
    by_category: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    sla_status: Counter[str] = Counter()
    states: Counter[str] = Counter()
    for call in calls:
        if call.incident_id is None:
            continue
        resp = await http.get(f"/api/v1/incidents/{call.incident_id}")
        if resp.status_code != 200:
            lost.append(call)
            continue
        inc = resp.json()
        by_category[inc["category"]] += 1
        by_kind[inc["kind"]] += 1
        sla_status[inc["sla_status"]] += 1
        states[inc["state"]] += 1
        created = _t(inc["created_at"])
        assert created is not None
        offers = inc["offers"]
        if offers:
            to_offer.append(min(_t(o["offered_at"]) or created for o in offers) - created)
        accepted = [_t(o["responded_at"]) for o in offers if o["status"] == "accepted"]
        if accepted and accepted[0] is not None:
            to_accept.append(accepted[0] - created)
        arrived = _t(inc["arrived_at"])
        if arrived is not None:
            to_arrive.append(arrived - created)
        emergency = inc["category"] == "emergency"
        window = timedelta(minutes=15 if emergency else 30)
        r = call.request
        observed.append(
            Observed(
                emergency=emergency,
                hour=int(r.t // 3600) % 24,
                created=created,
                deadline=created + window,
                # In scenario time: what the arrival would be at speed 1.
                arrived=created + (arrived - created) * speed if arrived else None,
                cancelled=inc["state"] == "cancelled",
                lat=inc["lat"],
                lon=inc["lon"],
            )
        )
    summary = summarise(
        observed,
        bounds=bounds_of(district),
        helper_duty_s=[],
    )
    summary["policy"] = "server (scenario time)"
    telemetry = counters[1].get("telemetry", 0) - counters[0].get("telemetry", 0)
    return {
        "mode": "live",
        "scenario": cfg.scenario.name,
        "speed": speed,
        "elders": len(district.elders),
        "helpers": len(district.helpers),
        "calls": len(calls),
        "run_s": round(elapsed_s, 2),
        "lost": len(lost),
        "duplicated": len(duplicated) + len(duplicated_ids) + len(unexpected),
        "lost_calls": [c.device_id for c in lost],
        "unexpected_incidents": unexpected,
        "incidents_by_category": dict(by_category),
        "incidents_by_kind": dict(by_kind),
        "incident_states": dict(states),
        "server_sla_status": dict(sla_status),
        "time_to_offer": _percentiles(to_offer, speed),
        "time_to_accept": _percentiles(to_accept, speed),
        "time_to_arrival": _percentiles(to_arrive, speed),
        "ingest": {
            "telemetry_published": fleet.stats.telemetry_sent,
            "published_per_s": round(fleet.stats.telemetry_sent / max(elapsed_s, 1e-9), 1),
            "server_telemetry_stored": telemetry,
            "server_telemetry_per_s": round(telemetry / max(elapsed_s, 1e-9), 1),
            "max_in_flight": fleet.stats.max_in_flight,
            "server_counters": counters[1],
        },
        "fleet": vars(fleet.stats),
        "helpers_acted": vars(crew.stats),
        "policies": [summary],
    }
