"""REST API v1: incidents, helper actions, helpers, elders, devices, dead letters, outbox.

Routes are thin: they open a unit of work, call the workflow or registry, and shape the answer.
The console (a later issue) uses these same services, so there is one path to the data.
Every id, number and string a route takes is bounded to what the store holds (``inputs.py``),
so bad input is answered 422 and errors are RFC 9457 problems (``problems.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatcher.errors import NotFound
from dispatcher.registry import import_devices, import_elders, import_helpers
from dispatcher.store.models import (
    DeadLetter,
    Device,
    Elder,
    Helper,
    Incident,
    Offer,
    OutboxMessage,
    TimelineEntry,
)
from dispatcher.web.context import AppContext
from dispatcher.web.inputs import INT32_MAX, ElderId, HelperId, IncidentId, Line
from dispatcher.web.problems import problem_doc
from dispatcher.web.schemas import (
    DeadLetterOut,
    DeviceOut,
    DutyChange,
    ElderOut,
    EscalateAction,
    FalseAlarm,
    HelperAction,
    HelperOut,
    HelpRequest,
    ImportResult,
    IncidentDetail,
    IncidentSummary,
    LocationUpdate,
    NoteAction,
    OfferOut,
    OutboxOut,
    PersonRef,
    ResolveAction,
    TimelineOut,
    WithdrawAction,
)
from dispatcher.workflow import open_incidents_query
from sla import Category, Level


def ctx(request: Request) -> AppContext:
    context: AppContext = request.app.state.ctx
    return context


def require_token(request: Request) -> None:
    """With HUYUAN_API_TOKENS set, every API call needs ``Authorization: Bearer <token>``."""
    tokens = ctx(request).api_tokens
    if not tokens:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    # compare_digest: the check must not leak, by its timing, how much of a token was right.
    if scheme.lower() != "bearer" or not any(
        secrets.compare_digest(token.encode(), known.encode()) for known in tokens
    ):
        raise HTTPException(
            status_code=401,
            detail="a valid API token is required (Authorization: Bearer …)",
            headers={"WWW-Authenticate": "Bearer"},
        )


router = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(require_token)],
    responses={
        400: problem_doc("The body could not be read (not UTF-8, or not the declared type)"),
        401: problem_doc("No valid API token (when the server has tokens configured)"),
        404: problem_doc("The incident, helper or elder does not exist"),
        409: problem_doc("The incident's or helper's current state does not allow this"),
        422: problem_doc("The request does not fit the schema, or a CSV row is refused"),
    },
)


Ctx = Annotated[AppContext, Depends(ctx)]


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with ctx(request).db.session() as s:
        yield s


# scope="function": the unit of work commits before the answer is sent, so a client is never
# told 200 about a write that then failed to commit.
Session = Annotated[AsyncSession, Depends(session, scope="function")]


async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with ctx(request).db.read_session() as s:
        yield s


# GET routes read through this, so operators' screens never queue in front of an SOS write.
ReadSession = Annotated[AsyncSession, Depends(read_session)]
CsvBody = Annotated[str, Body(media_type="text/csv")]


async def summaries(s: AsyncSession, incidents: Sequence[Incident]) -> list[IncidentSummary]:
    elder_ids = {i.elder_id for i in incidents if i.elder_id is not None}
    helper_ids = {i.assigned_helper_id for i in incidents if i.assigned_helper_id is not None}
    elders: dict[int, str] = {}
    helpers: dict[int, str] = {}
    if elder_ids:
        rows = await s.execute(select(Elder.id, Elder.name).where(Elder.id.in_(elder_ids)))
        elders = {i: n for i, n in rows}
    if helper_ids:
        rows = await s.execute(select(Helper.id, Helper.name).where(Helper.id.in_(helper_ids)))
        helpers = {i: n for i, n in rows}
    out = []
    for i in incidents:
        data = IncidentSummary.model_validate(
            {
                **{c: getattr(i, c) for c in IncidentSummary.model_fields if hasattr(i, c)},
                "elder": PersonRef(id=i.elder_id, name=elders[i.elder_id])
                if i.elder_id in elders
                else None,
                "assigned_helper": PersonRef(
                    id=i.assigned_helper_id, name=helpers[i.assigned_helper_id]
                )
                if i.assigned_helper_id in helpers
                else None,
            }
        )
        out.append(data)
    return out


async def detail(s: AsyncSession, incident: Incident) -> IncidentDetail:
    (summary,) = await summaries(s, [incident])
    offers = (
        (await s.execute(select(Offer).where(Offer.incident_id == incident.id).order_by(Offer.id)))
        .scalars()
        .all()
    )
    timeline = (
        (
            await s.execute(
                select(TimelineEntry)
                .where(TimelineEntry.incident_id == incident.id)
                .order_by(TimelineEntry.id)
            )
        )
        .scalars()
        .all()
    )
    return IncidentDetail(
        **summary.model_dump(),
        outcome=incident.outcome,
        offers=[OfferOut.model_validate(o) for o in offers],
        timeline=[TimelineOut.model_validate(t) for t in timeline],
    )


# ---- incidents -------------------------------------------------------------------------------


@router.get("/incidents", response_model=list[IncidentSummary], tags=["incidents"])
async def list_incidents(
    s: ReadSession,
    status: Literal["open", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[IncidentSummary]:
    """Incidents, open ones ordered by arrival deadline (the operators' queue)."""
    if status == "open":
        stmt = open_incidents_query()
    else:
        stmt = select(Incident).order_by(Incident.id.desc())
    return await summaries(s, (await s.execute(stmt.limit(limit))).scalars().all())


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, tags=["incidents"])
async def get_incident(incident_id: IncidentId, s: ReadSession, c: Ctx) -> IncidentDetail:
    """One incident with its offers and its append-only timeline."""
    return await detail(s, await c.workflow.get_incident(s, incident_id))


@router.post("/incidents", response_model=IncidentDetail, status_code=201, tags=["incidents"])
async def create_request(body: HelpRequest, s: Session, c: Ctx) -> IncidentDetail:
    """A help request taken by an operator: general help (30 min) unless marked emergency."""
    elder = await s.get(Elder, body.elder_id)
    if elder is None:
        raise NotFound(f"elder {body.elder_id} does not exist")
    incident = await c.workflow.open_incident(
        s,
        now=c.clock(),
        category=Category(body.category),
        kind="request",
        summary=body.summary,
        elder=elder,
        device_id=None,
        lat=elder.home_lat,
        lon=elder.home_lon,
        actor="operator:api",
        notify_family=False,
    )
    return await detail(s, incident)


@router.post(
    "/incidents/{incident_id}/accept", response_model=IncidentDetail, tags=["helper actions"]
)
async def accept(incident_id: IncidentId, body: HelperAction, s: Session, c: Ctx) -> IncidentDetail:
    """The offered helper accepts and sets off."""
    incident = await c.workflow.accept(
        s, incident_id, body.helper_id, c.clock(), f"helper:{body.helper_id}"
    )
    return await detail(s, incident)


@router.post(
    "/incidents/{incident_id}/decline", response_model=IncidentDetail, tags=["helper actions"]
)
async def decline(
    incident_id: IncidentId, body: HelperAction, s: Session, c: Ctx
) -> IncidentDetail:
    """The offered helper declines; the next best helper gets the offer at once."""
    incident = await c.workflow.decline(
        s, incident_id, body.helper_id, c.clock(), f"helper:{body.helper_id}"
    )
    return await detail(s, incident)


@router.post(
    "/incidents/{incident_id}/arrived", response_model=IncidentDetail, tags=["helper actions"]
)
async def arrived(
    incident_id: IncidentId, body: HelperAction, s: Session, c: Ctx
) -> IncidentDetail:
    """The assigned helper checks in on scene; this stops the arrival clock."""
    incident = await c.workflow.arrive(
        s, incident_id, body.helper_id, c.clock(), f"helper:{body.helper_id}"
    )
    return await detail(s, incident)


@router.post(
    "/incidents/{incident_id}/resolve", response_model=IncidentDetail, tags=["helper actions"]
)
async def resolve(
    incident_id: IncidentId, body: ResolveAction, s: Session, c: Ctx
) -> IncidentDetail:
    """Close the case with an outcome; the helper is free again."""
    actor = f"helper:{body.helper_id}" if body.helper_id is not None else "operator:api"
    incident = await c.workflow.resolve(
        s, incident_id, body.helper_id, c.clock(), actor, body.outcome
    )
    return await detail(s, incident)


@router.post(
    "/incidents/{incident_id}/false-alarm", response_model=IncidentDetail, tags=["incidents"]
)
async def false_alarm(
    incident_id: IncidentId, body: FalseAlarm, s: Session, c: Ctx
) -> IncidentDetail:
    """An operator confirms a false alarm (e.g. after the device cancelled) and closes it."""
    incident = await c.workflow.confirm_false_alarm(
        s, incident_id, c.clock(), "operator:api", body.note
    )
    return await detail(s, incident)


@router.post("/incidents/{incident_id}/assign", response_model=IncidentDetail, tags=["incidents"])
async def assign(incident_id: IncidentId, body: HelperAction, s: Session, c: Ctx) -> IncidentDetail:
    """An operator assigns a helper by hand, skipping the offer round."""
    incident = await c.workflow.assign(s, incident_id, body.helper_id, c.clock(), "operator:api")
    return await detail(s, incident)


@router.post("/incidents/{incident_id}/withdraw", response_model=IncidentDetail, tags=["incidents"])
async def withdraw(
    incident_id: IncidentId, body: WithdrawAction, s: Session, c: Ctx
) -> IncidentDetail:
    """Take the assigned helper off the incident and offer it to the next best helper."""
    incident = await c.workflow.withdraw_helper(
        s, incident_id, c.clock(), "operator:api", body.reason
    )
    return await detail(s, incident)


@router.post("/incidents/{incident_id}/escalate", response_model=IncidentDetail, tags=["incidents"])
async def escalate(
    incident_id: IncidentId, body: EscalateAction, s: Session, c: Ctx
) -> IncidentDetail:
    """Escalate by hand: to the supervisor, or to emergency services (120)."""
    level = Level.SUPERVISOR if body.level == "supervisor" else Level.EMERGENCY_SERVICES
    incident = await c.workflow.escalate_by_hand(
        s, incident_id, level, c.clock(), "operator:api", body.note
    )
    return await detail(s, incident)


@router.post("/incidents/{incident_id}/notes", response_model=IncidentDetail, tags=["incidents"])
async def add_note(incident_id: IncidentId, body: NoteAction, s: Session, c: Ctx) -> IncidentDetail:
    """Put a note on the incident's timeline."""
    incident = await c.workflow.add_note(s, incident_id, c.clock(), "operator:api", body.text)
    return await detail(s, incident)


# ---- helpers ---------------------------------------------------------------------------------


@router.get("/helpers", response_model=list[HelperOut], tags=["helpers"])
async def list_helpers(s: ReadSession) -> list[HelperOut]:
    rows = (await s.execute(select(Helper).order_by(Helper.id))).scalars().all()
    return [HelperOut.model_validate(h) for h in rows]


async def _helper(s: AsyncSession, helper_id: int) -> Helper:
    helper = await s.get(Helper, helper_id)
    if helper is None:
        raise NotFound(f"helper {helper_id} does not exist")
    return helper


@router.post("/helpers/{helper_id}/duty", response_model=HelperOut, tags=["helpers"])
async def set_duty(helper_id: HelperId, body: DutyChange, s: Session) -> HelperOut:
    """Go on or off duty; only helpers on duty receive offers."""
    helper = await _helper(s, helper_id)
    helper.on_duty = body.on_duty
    return HelperOut.model_validate(helper)


@router.put("/helpers/{helper_id}/location", response_model=HelperOut, tags=["helpers"])
async def set_location(helper_id: HelperId, body: LocationUpdate, s: Session, c: Ctx) -> HelperOut:
    """The helper app reports where the helper is (WGS-84)."""
    helper = await _helper(s, helper_id)
    await c.workflow.update_helper_location(s, helper, body.lat, body.lon, c.clock())
    return HelperOut.model_validate(helper)


# ---- elders, devices, imports ----------------------------------------------------------------


@router.get("/elders", response_model=list[ElderOut], tags=["elders"])
async def list_elders(
    s: ReadSession,
    q: Annotated[Line | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[ElderOut]:
    """Elders, or those whose name or address contains ``q``."""
    stmt = select(Elder).order_by(Elder.id).limit(limit)
    if q:
        stmt = stmt.where(Elder.name.contains(q) | Elder.address.contains(q))
    return [ElderOut.model_validate(e) for e in (await s.execute(stmt)).scalars()]


@router.get("/elders/{elder_id}", response_model=ElderOut, tags=["elders"])
async def get_elder(elder_id: ElderId, s: ReadSession) -> ElderOut:
    elder = await s.get(Elder, elder_id)
    if elder is None:
        raise NotFound(f"elder {elder_id} does not exist")
    return ElderOut.model_validate(elder)


@router.get("/devices", response_model=list[DeviceOut], tags=["devices"])
async def list_devices(
    s: ReadSession, limit: Annotated[int, Query(ge=1, le=50000)] = 5000
) -> list[DeviceOut]:
    """Devices, offline ones first (they need a call)."""
    stmt = select(Device).order_by(Device.online, Device.device_id).limit(limit)
    return [DeviceOut.model_validate(d) for d in (await s.execute(stmt)).scalars()]


@router.post("/import/{kind}", response_model=ImportResult, tags=["import"])
async def import_csv(
    kind: Literal["elders", "devices", "helpers"], body: CsvBody, s: Session, c: Ctx
) -> ImportResult:
    """Load elders, devices or helpers from CSV (idempotent: rows are keyed by reference)."""
    if kind == "elders":
        report = await import_elders(s, body, c.clock())
    elif kind == "devices":
        report = await import_devices(s, body)
    else:
        report = await import_helpers(s, body, c.clock())
    return ImportResult(created=report.created, updated=report.updated)


# ---- operations ------------------------------------------------------------------------------


@router.get("/dead-letters", response_model=list[DeadLetterOut], tags=["operations"])
async def dead_letters(
    s: ReadSession, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[DeadLetterOut]:
    """Device messages that could not be used, newest first, with the reason and the raw bytes."""
    rows = (
        await s.execute(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit))
    ).scalars()
    return [
        DeadLetterOut(
            id=d.id,
            received_at=d.received_at,
            topic=d.topic,
            device_id=d.device_id,
            reason=d.reason,
            payload_text=d.payload.decode("utf-8", "replace"),
        )
        for d in rows
    ]


@router.get("/outbox", response_model=list[OutboxOut], tags=["operations"])
async def outbox(
    s: ReadSession,
    incident_id: Annotated[int | None, Query(ge=1, le=INT32_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OutboxOut]:
    """Notifications and their delivery status."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if incident_id is not None:
        stmt = stmt.where(OutboxMessage.incident_id == incident_id)
    return [OutboxOut.model_validate(o) for o in (await s.execute(stmt)).scalars()]


__all__ = ["router"]
