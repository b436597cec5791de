"""Incident detail: who the elder is, where the device is, who can get there, what happened.

The candidates listed come from the workflow's own candidate query (``IncidentRepository.
candidates``, without claiming anyone), so the page ranks exactly the helpers dispatch would ask
next: never one who already declined, let an offer expire or was taken off this incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatcher.matching import RankedHelper
from dispatcher.store import Session
from dispatcher.store.fleet import device_of
from dispatcher.store.models import Device, Elder, Helper, Incident, Offer, TimelineEntry
from dispatcher.store.read_models import incident_record, taken_by
from dispatcher.store.roster import free_helpers, helpers_by_id
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
    s: Session, ctx: AppContext, incident: Incident, now: datetime
) -> list[Candidate]:
    """The helpers dispatch would ask next, best first, each with whether they make the deadline."""
    repository = ctx.workflow.incidents
    state = await repository.state_of(s, incident)
    ranked = (await repository.candidates(s, state, now, claim=False))[:CANDIDATES_SHOWN]
    helpers = await helpers_by_id(s, (r.helper_id for r in ranked))
    return [Candidate(helpers[r.helper_id], r) for r in ranked if r.helper_id in helpers]


async def load_view(s: Session, ctx: AppContext, incident_id: int, now: datetime) -> IncidentView:
    repository = ctx.workflow.incidents
    incident = await ctx.workflow.get_incident(s, incident_id)
    record = await incident_record(s, incident)
    return IncidentView(
        incident=incident,
        elder=await repository.elder(s, incident.elder_id),
        device=await device_of(s, incident.device_id, incident.elder_id),
        helper=(
            await repository.helper(s, incident.assigned_helper_id)
            if incident.assigned_helper_id
            else None
        ),
        offers=record.offers,
        timeline=record.timeline[::-1],  # newest first
        candidates=await candidates(s, ctx, incident, now),
        free_helpers=list(await free_helpers(s)),
        taken_by=(await taken_by(s, [incident.id])).get(incident.id),
    )


__all__ = ["CANDIDATES_SHOWN", "Candidate", "IncidentView", "candidates", "load_view"]
