"""Incidents as the API and the console read them: the queue, one incident's record, statistics.

One read model for every screen: the REST API's summaries and details, the console's queue, its
incident page and its live-queue marker read incidents through here, so they agree on what
"open", "taken" and "an incident's offers and timeline" mean. Writes go through
``IncidentRepository`` (and the workflow); nothing here changes a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from dispatcher.store import Session
from dispatcher.store.incidents import OPEN_STATE_VALUES, open_incidents_query
from dispatcher.store.models import Elder, Helper, Incident, Offer, TimelineEntry

__all__ = [
    "TAKEN",
    "IncidentRecord",
    "Names",
    "QueueMarker",
    "incident_record",
    "incidents_since",
    "latest_incidents",
    "names_for",
    "open_incidents",
    "queue_marker",
    "taken_by",
]

TAKEN = "taken"
"""The timeline action of an operator answering an incident (the queue's "taken by")."""

QueueMarker = tuple[object, ...]


@dataclass(frozen=True)
class Names:
    """Who a list of incidents mentions: elders (name, community) and helpers (name), by id."""

    elders: dict[int, tuple[str, str | None]]
    helpers: dict[int, str]

    def elder(self, elder_id: int | None) -> str | None:
        return self.elders[elder_id][0] if elder_id in self.elders else None

    def community(self, elder_id: int | None) -> str | None:
        return self.elders[elder_id][1] if elder_id in self.elders else None

    def helper(self, helper_id: int | None) -> str | None:
        return self.helpers.get(helper_id) if helper_id is not None else None


@dataclass(frozen=True)
class IncidentRecord:
    """One incident's offers (with the helper's name) and its timeline, both oldest first."""

    incident: Incident
    offers: list[tuple[Offer, str]]
    timeline: list[TimelineEntry]


async def open_incidents(s: Session, limit: int) -> Sequence[Incident]:
    """Open incidents, most urgent deadline first (the operators' queue)."""
    return (await s.execute(open_incidents_query().limit(limit))).scalars().all()


async def latest_incidents(s: Session, limit: int) -> Sequence[Incident]:
    """Every incident, newest first."""
    stmt = select(Incident).order_by(Incident.id.desc()).limit(limit)
    return (await s.execute(stmt)).scalars().all()


async def names_for(s: Session, incidents: Sequence[Incident]) -> Names:
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
    return Names(elders, helpers)


async def incident_record(s: Session, incident: Incident) -> IncidentRecord:
    offers = await s.execute(
        select(Offer, Helper.name)
        .join(Helper, Helper.id == Offer.helper_id)
        .where(Offer.incident_id == incident.id)
        .order_by(Offer.id)
    )
    timeline = await s.execute(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident.id)
        .order_by(TimelineEntry.id)
    )
    return IncidentRecord(
        incident=incident,
        offers=[(o, name) for o, name in offers],
        timeline=list(timeline.scalars()),
    )


async def taken_by(s: Session, incident_ids: Sequence[int]) -> dict[int, str]:
    """Who took each incident (the latest ``taken`` entry), by display name."""
    if not incident_ids:
        return {}
    rows = await s.execute(
        select(TimelineEntry.incident_id, TimelineEntry.actor)
        .where(TimelineEntry.incident_id.in_(incident_ids), TimelineEntry.action == TAKEN)
        .order_by(TimelineEntry.id)
    )
    return {i: actor.removeprefix("operator:") for i, actor in rows}


async def queue_marker(s: Session) -> QueueMarker:
    """A cheap value that changes whenever the queue an operator sees may have changed.

    Every such change either moves an open incident's ``updated_at`` or appends to the timeline
    (closing takes an incident out of the open set but writes an entry).
    """
    open_count, open_updated = (
        await s.execute(
            select(func.count(Incident.id), func.max(Incident.updated_at)).where(
                Incident.state.in_(OPEN_STATE_VALUES)
            )
        )
    ).one()
    last_entry = (await s.execute(select(func.max(TimelineEntry.id)))).scalar()
    return (open_count, open_updated, last_entry)


async def incidents_since(
    s: Session, since: datetime, limit: int
) -> list[tuple[Incident, str | None, str | None]]:
    """Incidents created since ``since``, oldest first, with the elder's community and name."""
    result = await s.execute(
        select(Incident, Elder.community, Elder.name)
        .outerjoin(Elder, Elder.id == Incident.elder_id)
        .where(Incident.created_at >= since)
        .order_by(Incident.created_at)
        .limit(limit)
    )
    return [(i, c, n) for i, c, n in result]
