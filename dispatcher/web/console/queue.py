"""The home screen: open incidents by deadline, pushed to the browser as they change.

Rows are rendered on the server (the same template for the page and for each push), so the
browser only swaps HTML and ticks the countdowns. Who "took" an incident is a timeline entry
(action ``taken``), so every operator's screen agrees and the record shows who answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from dispatcher.store import Session
from dispatcher.store.models import Incident
from dispatcher.store.read_models import TAKEN, names_for, open_incidents, taken_by
from dispatcher.web.console.auth import CurrentOperator, PostedForm, app_context
from dispatcher.web.console.views import render
from dispatcher.web.inputs import IncidentId
from sla import Category, SlaStatus

router = APIRouter()


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
        return self.incident.category == Category.EMERGENCY and self.taken_by is None


async def queue_rows(s: Session, limit: int = 500) -> list[QueueRow]:
    incidents = await open_incidents(s, limit)
    names = await names_for(s, incidents)
    taken = await taken_by(s, [i.id for i in incidents])
    return [
        QueueRow(
            incident=i,
            elder_name=names.elder(i.elder_id),
            community=names.community(i.elder_id),
            helper_name=names.helper(i.assigned_helper_id) if i.assigned_helper_id else None,
            taken_by=taken.get(i.id),
        )
        for i in incidents
    ]


def counts(rows: Sequence[QueueRow]) -> dict[str, int]:
    return {
        "open": len(rows),
        "at_risk": sum(r.incident.sla_status == SlaStatus.AT_RISK for r in rows),
        "breached": sum(r.incident.sla_status == SlaStatus.BREACHED for r in rows),
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
