"""The helper's screens and actions: duty, position, the offer, the incident, history.

Every action goes through ``Workflow`` with actor ``helper:<id>`` in one transaction, after
checking that the offer or incident is this helper's own (403 otherwise: nothing changes).
Forms post and redirect back (they work without JavaScript); the script only adds the
position, the countdowns and the live refresh.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from dispatcher.errors import Conflict, InvalidInput, NotFound
from dispatcher.store import Session
from dispatcher.store.helper_view import CaseCard, HelperView
from dispatcher.web.context import AppContext
from dispatcher.web.helper_app.auth import (
    PATH,
    CurrentHelper,
    HelperForbidden,
    HelperForm,
    SignedInHelper,
    app_context,
    helper_config,
)
from dispatcher.web.helper_app.navigation import distance_m, nav_links
from dispatcher.web.helper_app.views import (
    DECLINE_REASONS,
    FAR_REASONS,
    MESSAGES,
    OUTCOMES,
    WITHDRAW_REASONS,
    render,
)

router = APIRouter()
VIEW = HelperView()
_FREE_TEXT = 200


def _home(message: str) -> Response:
    return RedirectResponse(f"{PATH}/?m={message}", status_code=303)


def _choice(form: FormData, name: str, choices: dict[str, tuple[str, str]]) -> tuple[str, str]:
    key = str(form.get(name, ""))
    if key not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}", field=name)
    return key, choices[key][0]


def _text(form: FormData, name: str) -> str:
    return " ".join(str(form.get(name, "")).split())[:_FREE_TEXT]


def _position(form: FormData) -> tuple[float, float] | None:
    """A latitude/longitude pair from the form, or None when the browser had none."""
    raw_lat, raw_lon = form.get("lat"), form.get("lon")
    if not raw_lat or not raw_lon:
        return None
    try:
        lat, lon = float(str(raw_lat)), float(str(raw_lon))
    except ValueError as exc:
        raise InvalidInput("lat and lon must be numbers", field="lat") from exc
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput("lat and lon out of range", field="lat")
    return lat, lon


async def _own_offer(s: Session, helper: SignedInHelper, offer_id: int) -> int:
    owner = await VIEW.offer_owner(s, offer_id)
    if owner is None:
        raise NotFound(f"offer {offer_id} does not exist")
    if owner[0] != helper.id:
        raise HelperForbidden
    return owner[1]


async def _own_incident(s: Session, helper: SignedInHelper, incident_id: int) -> None:
    exists, holder = await VIEW.assigned_helper(s, incident_id)
    if not exists:
        raise NotFound(f"incident {incident_id} does not exist")
    if holder != helper.id:
        raise HelperForbidden


async def _screen(
    request: Request, helper: SignedInHelper, status: int = 200, **extra: object
) -> Response:
    ctx = app_context(request)
    async with ctx.db.read_session() as s:
        me = await VIEW.status(s, helper.id)
        offer = await VIEW.pending_offer(s, helper.id)
        case = await VIEW.case(s, helper.id)
    if me is None:  # the helper was deleted after signing in
        raise HelperForbidden
    code = request.query_params.get("m", "")
    return render(
        request,
        "home.html",
        status,
        helper=helper,
        me=me,
        offer=offer,
        case=case,
        nav=_nav(case),
        message=MESSAGES.get(code),
        **extra,
    )


def _nav(case: CaseCard | None) -> object:
    if case is None or case.lat is None or case.lon is None:
        return None
    label = case.elder.name if case.elder is not None else "求助位置"
    return nav_links(case.lat, case.lon, label)


@router.get("/")
async def home(request: Request, helper: CurrentHelper) -> Response:
    return await _screen(request, helper)


@router.get("/history")
async def history(request: Request, helper: CurrentHelper) -> Response:
    ctx = app_context(request)
    async with ctx.db.read_session() as s:
        rows = await VIEW.history(s, helper.id)
    return render(request, "history.html", helper=helper, rows=rows)


@router.get("/practice")
async def practice(request: Request) -> Response:
    """The practice walk-through: all in the browser, nothing sent, nothing stored."""
    return render(request, "practice.html", helper=None)


@router.post("/duty")
async def duty(request: Request, helper: CurrentHelper, form: HelperForm) -> Response:
    on = form.get("on") == "1"
    position = _position(form)
    ctx = app_context(request)
    now = ctx.clock()
    async with ctx.db.session() as s:
        me = await VIEW.status(s, helper.id)
        if me is None:
            raise HelperForbidden
        if not on and me.active_incident_id is not None:
            raise Conflict("finish or hand back your incident before going off duty")
        if not on:  # an offer waiting for someone going off duty is declined, not left to expire
            offer = await VIEW.pending_offer(s, helper.id)
            if offer is not None:
                await ctx.workflow.decline(s, offer.incident_id, helper.id, now, helper.actor)
        await VIEW.set_on_duty(s, helper.id, on)
        if on and position is not None:
            row = await ctx.workflow.incidents.helper(s, helper.id)
            assert row is not None
            await ctx.workflow.update_helper_location(s, row, position[0], position[1], now)
    return _home("on" if on else "off")


@router.post("/location", status_code=204)
async def location(request: Request, helper: CurrentHelper, form: HelperForm) -> Response:
    """The browser's position while on duty (sent about once a minute)."""
    position = _position(form)
    if position is None:
        raise InvalidInput("lat and lon are required", field="lat")
    ctx = app_context(request)
    async with ctx.db.session() as s:
        row = await ctx.workflow.incidents.helper(s, helper.id)
        if row is None:
            raise HelperForbidden
        if not row.on_duty:
            raise Conflict("off duty: your position is not shared")
        await ctx.workflow.update_helper_location(s, row, position[0], position[1], ctx.clock())
    return Response(status_code=204)


@router.post("/offers/{offer_id}/accept")
async def accept(
    request: Request, offer_id: int, helper: CurrentHelper, _f: HelperForm
) -> Response:
    ctx = app_context(request)
    try:
        async with ctx.db.session() as s:
            incident_id = await _own_offer(s, helper, offer_id)
            await ctx.workflow.accept(s, incident_id, helper.id, ctx.clock(), helper.actor)
    except Conflict:
        return await _screen(request, helper, 409, problem="offer_gone")
    return _home("accepted")


@router.post("/offers/{offer_id}/decline")
async def decline(
    request: Request, offer_id: int, helper: CurrentHelper, form: HelperForm
) -> Response:
    _, reason = _choice(form, "reason", DECLINE_REASONS)
    ctx = app_context(request)
    now = ctx.clock()
    try:
        async with ctx.db.session() as s:
            incident_id = await _own_offer(s, helper, offer_id)
            await ctx.workflow.decline(s, incident_id, helper.id, now, helper.actor)
            await ctx.workflow.add_note(s, incident_id, now, helper.actor, f"拒绝原因：{reason}")
    except Conflict:
        return await _screen(request, helper, 409, problem="offer_gone")
    return _home("declined")


@router.post("/incidents/{incident_id}/arrive")
async def arrive(
    request: Request, incident_id: int, helper: CurrentHelper, form: HelperForm
) -> Response:
    """Check in on arrival; farther than the set radius (or with no position) needs a reason."""
    cfg, ctx = helper_config(request), app_context(request)
    position = _position(form)
    reason_key = str(form.get("reason", ""))
    async with ctx.db.session() as s:
        await _own_incident(s, helper, incident_id)
        case = await VIEW.case(s, helper.id)
        if case is None or case.incident_id != incident_id:
            raise Conflict("this incident is no longer open")
        away = (
            distance_m(position, (case.lat, case.lon))
            if position is not None and case.lat is not None and case.lon is not None
            else None
        )
        far = away is None or away > cfg.checkin_radius_m
        ask_reason = far and reason_key not in FAR_REASONS
        if not ask_reason:  # else nothing is written: the page asks for the reason (below)
            await _check_in(s, ctx, helper, incident_id, away, far, reason_key, form)
    if ask_reason:
        return await _screen(request, helper, 409, far_m=away, far_position=position)
    return _home("arrived")


async def _check_in(
    s: Session,
    ctx: AppContext,
    helper: SignedInHelper,
    incident_id: int,
    away: float | None,
    far: bool,
    reason_key: str,
    form: FormData,
) -> None:
    now = ctx.clock()
    await ctx.workflow.arrive(s, incident_id, helper.id, now, helper.actor)
    where = f"距老人 {away:.0f} 米" if away is not None else "未取得定位"
    note = f"到达签到：{where}"
    if far:
        note += f"；原因：{FAR_REASONS[reason_key][0]}"
        if detail := _text(form, "detail"):
            note += f"（{detail}）"
    await ctx.workflow.add_note(s, incident_id, now, helper.actor, note)


@router.post("/incidents/{incident_id}/resolve")
async def resolve(
    request: Request, incident_id: int, helper: CurrentHelper, form: HelperForm
) -> Response:
    _, outcome = _choice(form, "outcome", OUTCOMES)
    if detail := _text(form, "detail"):
        outcome = f"{outcome}：{detail}"
    ctx = app_context(request)
    async with ctx.db.session() as s:
        await _own_incident(s, helper, incident_id)
        await ctx.workflow.resolve(s, incident_id, helper.id, ctx.clock(), helper.actor, outcome)
    return _home("resolved")


@router.post("/incidents/{incident_id}/withdraw")
async def withdraw(
    request: Request, incident_id: int, helper: CurrentHelper, form: HelperForm
) -> Response:
    """Hand an accepted incident back: the centre re-dispatches at once."""
    _, reason = _choice(form, "reason", WITHDRAW_REASONS)
    if detail := _text(form, "detail"):
        reason = f"{reason}：{detail}"
    ctx = app_context(request)
    async with ctx.db.session() as s:
        await _own_incident(s, helper, incident_id)
        await ctx.workflow.withdraw_helper(
            s, incident_id, ctx.clock(), helper.actor, reason, redispatch=True
        )
    return _home("withdrawn")


__all__ = ["router"]
