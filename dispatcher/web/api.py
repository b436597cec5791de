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

from dispatcher.registry import import_devices, import_elders, import_helpers
from dispatcher.store import Session as Transaction
from dispatcher.store import elders, fleet, read_models, roster
from dispatcher.store.models import Incident
from dispatcher.store.outbox import recent_messages
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


async def session(request: Request) -> AsyncIterator[Transaction]:
    async with ctx(request).db.session() as s:
        yield s


# scope="function": the unit of work commits before the answer is sent, so a client is never
# told 200 about a write that then failed to commit.
Session = Annotated[Transaction, Depends(session, scope="function")]


async def read_session(request: Request) -> AsyncIterator[Transaction]:
    async with ctx(request).db.read_session() as s:
        yield s


# GET routes read through this, so operators' screens never queue in front of an SOS write.
ReadSession = Annotated[Transaction, Depends(read_session)]
CsvBody = Annotated[str, Body(media_type="text/csv")]


def _person(person_id: int | None, name: str | None) -> PersonRef | None:
    return (
        PersonRef(id=person_id, name=name) if person_id is not None and name is not None else None
    )


async def summaries(s: Transaction, incidents: Sequence[Incident]) -> list[IncidentSummary]:
    names = await read_models.names_for(s, incidents)
    return [
        IncidentSummary.model_validate(
            {
                **{c: getattr(i, c) for c in IncidentSummary.model_fields if hasattr(i, c)},
                "elder": _person(i.elder_id, names.elder(i.elder_id)),
                "assigned_helper": _person(
                    i.assigned_helper_id, names.helper(i.assigned_helper_id)
                ),
            }
        )
        for i in incidents
    ]


async def detail(s: Transaction, incident: Incident) -> IncidentDetail:
    (summary,) = await summaries(s, [incident])
    record = await read_models.incident_record(s, incident)
    return IncidentDetail(
        **summary.model_dump(),
        outcome=incident.outcome,
        offers=[OfferOut.model_validate(o) for o, _name in record.offers],
        timeline=[TimelineOut.model_validate(t) for t in record.timeline],
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
        incidents = await read_models.open_incidents(s, limit)
    else:
        incidents = await read_models.latest_incidents(s, limit)
    return await summaries(s, incidents)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, tags=["incidents"])
async def get_incident(incident_id: IncidentId, s: ReadSession, c: Ctx) -> IncidentDetail:
    """One incident with its offers and its append-only timeline."""
    return await detail(s, await c.workflow.get_incident(s, incident_id))


@router.post("/incidents", response_model=IncidentDetail, status_code=201, tags=["incidents"])
async def create_request(body: HelpRequest, s: Session, c: Ctx) -> IncidentDetail:
    """A help request taken by an operator: general help (30 min) unless marked emergency."""
    elder = await elders.require_elder(s, body.elder_id)
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
    return [HelperOut.model_validate(h) for h in await roster.all_helpers(s)]


@router.post("/helpers/{helper_id}/duty", response_model=HelperOut, tags=["helpers"])
async def set_duty(helper_id: HelperId, body: DutyChange, s: Session) -> HelperOut:
    """Go on or off duty; only helpers on duty receive offers."""
    helper = await roster.set_on_duty(s, helper_id, body.on_duty)
    return HelperOut.model_validate(helper)


@router.put("/helpers/{helper_id}/location", response_model=HelperOut, tags=["helpers"])
async def set_location(helper_id: HelperId, body: LocationUpdate, s: Session, c: Ctx) -> HelperOut:
    """The helper app reports where the helper is (WGS-84)."""
    helper = await roster.require_helper(s, helper_id)
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
    return [ElderOut.model_validate(e) for e in await elders.list_elders(s, q, limit)]


@router.get("/elders/{elder_id}", response_model=ElderOut, tags=["elders"])
async def get_elder(elder_id: ElderId, s: ReadSession) -> ElderOut:
    return ElderOut.model_validate(await elders.require_elder(s, elder_id))


@router.get("/devices", response_model=list[DeviceOut], tags=["devices"])
async def list_devices(
    s: ReadSession, limit: Annotated[int, Query(ge=1, le=50000)] = 5000
) -> list[DeviceOut]:
    """Devices, offline ones first (they need a call)."""
    return [DeviceOut.model_validate(d) for d in await fleet.all_devices(s, limit)]


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
    rows = await fleet.recent_dead_letters(s, limit)
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
    rows = await recent_messages(s, incident_id, limit)
    return [OutboxOut.model_validate(o) for o in rows]


__all__ = ["router"]
