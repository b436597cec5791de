"""Incident detail: who the elder is, where the device is, who can get there, what happened.

Everything the page shows comes from the store and the pure matching core (``rank``), the
same ones the workflow dispatches with, so the candidates listed are the ones it would pick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatcher.matching import HelperPosition, RankedHelper, TravelMode, rank
from dispatcher.store.models import Device, Elder, Helper, Incident, Offer, TimelineEntry
from dispatcher.web.console.queue import taken_by
from dispatcher.web.context import AppContext

CANDIDATES_SHOWN = 8


@dataclass(frozen=True)
class Candidate:
    helper: Helper
    ranked: RankedHelper


@dataclass(frozen=True)
class IncidentView:
    incident: Incident
    elder: Elder | None
    device: Device | None
    helper: Helper | None
    offers: list[tuple[Offer, str]]
    timeline: list[TimelineEntry]
    candidates: list[Candidate]
    free_helpers: list[Helper]
    taken_by: str | None

    def map_data(self) -> dict[str, Any]:
        """Points for the map script: the incident, the elder's home, helpers by rank."""
        i = self.incident
        points: list[dict[str, Any]] = []
        if i.lat is not None and i.lon is not None:
            points.append({"kind": "incident", "lat": i.lat, "lon": i.lon, "label": f"#{i.id}"})
        if self.elder is not None:
            points.append(
                {
                    "kind": "home",
                    "lat": self.elder.home_lat,
                    "lon": self.elder.home_lon,
                    "label": self.elder.name,
                }
            )
        if self.helper is not None and self.helper.lat is not None and self.helper.lon is not None:
            points.append(
                {
                    "kind": "assigned",
                    "lat": self.helper.lat,
                    "lon": self.helper.lon,
                    "label": self.helper.name,
                }
            )
        for n, c in enumerate(self.candidates, start=1):
            if c.helper.lat is None or c.helper.lon is None:
                continue
            points.append(
                {
                    "kind": "ok" if c.ranked.can_make_deadline else "late",
                    "lat": c.helper.lat,
                    "lon": c.helper.lon,
                    "label": f"{n}. {c.helper.name}",
                    "rank": n,
                }
            )
        return {"points": points}


async def candidates(
    s: AsyncSession, ctx: AppContext, incident: Incident, now: datetime
) -> list[Candidate]:
    """Free on-duty helpers ranked by ETA, each with whether they can make the deadline."""
    if incident.lat is None or incident.lon is None:
        return []
    helpers = (
        (
            await s.execute(
                select(Helper).where(
                    Helper.on_duty.is_(True),
                    Helper.active_incident_id.is_(None),
                    Helper.lat.is_not(None),
                    Helper.located_at.is_not(None),
                )
            )
        )
        .scalars()
        .all()
    )
    by_id = {h.id: h for h in helpers}
    positions = [
        HelperPosition(h.id, h.lat, h.lon, TravelMode(h.travel_mode), h.located_at)
        for h in helpers
        if h.lat is not None and h.lon is not None and h.located_at is not None
    ]
    ranked = rank(
        (incident.lat, incident.lon),
        positions,
        now=now,
        deadline=incident.deadline,
        policy=ctx.workflow.config.matching,
    )
    return [Candidate(by_id[r.helper_id], r) for r in ranked[:CANDIDATES_SHOWN]]


async def device_of(s: AsyncSession, incident: Incident) -> Device | None:
    if incident.device_id is not None:
        return await s.get(Device, incident.device_id)
    if incident.elder_id is None:
        return None
    stmt = select(Device).where(Device.elder_id == incident.elder_id).limit(1)
    return (await s.execute(stmt)).scalar_one_or_none()


async def load_view(
    s: AsyncSession, ctx: AppContext, incident_id: int, now: datetime
) -> IncidentView:
    incident = await ctx.workflow.get_incident(s, incident_id)
    elder = await s.get(Elder, incident.elder_id) if incident.elder_id is not None else None
    helper = (
        await s.get(Helper, incident.assigned_helper_id) if incident.assigned_helper_id else None
    )
    offer_rows = await s.execute(
        select(Offer, Helper.name)
        .join(Helper, Helper.id == Offer.helper_id)
        .where(Offer.incident_id == incident.id)
        .order_by(Offer.id)
    )
    timeline = (
        (
            await s.execute(
                select(TimelineEntry)
                .where(TimelineEntry.incident_id == incident.id)
                .order_by(TimelineEntry.id.desc())
            )
        )
        .scalars()
        .all()
    )
    free = (
        (
            await s.execute(
                select(Helper)
                .where(Helper.on_duty.is_(True), Helper.active_incident_id.is_(None))
                .order_by(Helper.name)
            )
        )
        .scalars()
        .all()
    )
    return IncidentView(
        incident=incident,
        elder=elder,
        device=await device_of(s, incident),
        helper=helper,
        offers=[(o, name) for o, name in offer_rows],
        timeline=list(timeline),
        candidates=await candidates(s, ctx, incident, now),
        free_helpers=list(free),
        taken_by=(await taken_by(s, [incident.id])).get(incident.id),
    )


__all__ = ["CANDIDATES_SHOWN", "Candidate", "IncidentView", "candidates", "load_view"]
