"""The home screen: open incidents by deadline, pushed to the browser as they change.

Rows are rendered on the server (the same template for the page and for each push), so the
browser only swaps HTML and ticks the countdowns. Who "took" an incident is a timeline entry
(action ``taken``), so every operator's screen agrees and the record shows who answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from dispatcher.store.models import Elder, Helper, Incident, TimelineEntry
from dispatcher.web.console.auth import CurrentOperator, PostedForm, app_context
from dispatcher.web.console.views import render
from dispatcher.web.inputs import IncidentId
from dispatcher.workflow import open_incidents_query

router = APIRouter()
TAKEN = "taken"


@dataclass(frozen=True)
class QueueRow:
    incident: Incident
    elder_name: str | None
    community: str | None
    helper_name: str | None
    taken_by: str | None

    @property
    def needs_taking(self) -> bool:
        """A new emergency stays highlighted (and announced) until someone takes it."""
        return self.incident.category == "emergency" and self.taken_by is None


async def taken_by(s: AsyncSession, incident_ids: Sequence[int]) -> dict[int, str]:
    """Who took each incident (the latest ``taken`` entry), by display name."""
    if not incident_ids:
        return {}
    rows = await s.execute(
        select(TimelineEntry.incident_id, TimelineEntry.actor)
        .where(TimelineEntry.incident_id.in_(incident_ids), TimelineEntry.action == TAKEN)
        .order_by(TimelineEntry.id)
    )
    return {i: actor.removeprefix("operator:") for i, actor in rows}


async def queue_rows(s: AsyncSession, limit: int = 500) -> list[QueueRow]:
    incidents = (await s.execute(open_incidents_query().limit(limit))).scalars().all()
    elder_ids = {i.elder_id for i in incidents if i.elder_id is not None}
    helper_ids = {i.assigned_helper_id for i in incidents if i.assigned_helper_id is not None}
    elders: dict[int, tuple[str, str | None]] = {}
    helpers: dict[int, str] = {}
    if elder_ids:
        found = await s.execute(
            select(Elder.id, Elder.name, Elder.community).where(Elder.id.in_(elder_ids))
        )
        elders = {i: (n, c) for i, n, c in found}
    if helper_ids:
        found_h = await s.execute(select(Helper.id, Helper.name).where(Helper.id.in_(helper_ids)))
        helpers = {i: n for i, n in found_h}
    taken = await taken_by(s, [i.id for i in incidents])
    return [
        QueueRow(
            incident=i,
            elder_name=elders[i.elder_id][0] if i.elder_id in elders else None,
            community=elders[i.elder_id][1] if i.elder_id in elders else None,
            helper_name=helpers.get(i.assigned_helper_id) if i.assigned_helper_id else None,
            taken_by=taken.get(i.id),
        )
        for i in incidents
    ]


def counts(rows: Sequence[QueueRow]) -> dict[str, int]:
    return {
        "open": len(rows),
        "at_risk": sum(r.incident.sla_status == "at_risk" for r in rows),
        "breached": sum(r.incident.sla_status == "breached" for r in rows),
    }


@router.get("/")
async def queue_page(request: Request, operator: CurrentOperator) -> Response:
    async with app_context(request).db.read_session() as s:
        rows = await queue_rows(s)
    return render(request, "queue.html", operator, rows=rows, counts=counts(rows))


@router.post("/incidents/{incident_id}/take")
async def take(
    incident_id: IncidentId, request: Request, operator: CurrentOperator, _form: PostedForm
) -> Response:
    """The operator answers this incident: on the timeline with their name, highlight ends."""
    ctx = app_context(request)
    async with ctx.db.session() as s:
        await ctx.workflow.add_note(
            s, incident_id, ctx.clock(), operator.actor, f"taken by {operator.name}", action=TAKEN
        )
    return RedirectResponse(f"/console/incidents/{incident_id}", status_code=303)


__all__ = ["TAKEN", "QueueRow", "counts", "queue_rows", "router", "taken_by"]
