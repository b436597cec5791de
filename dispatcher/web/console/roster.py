"""Helpers (who is on duty, where, on what) and devices (which ones need a call)."""

from __future__ import annotations

from datetime import datetime, time, tzinfo

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from dispatcher.store import roster
from dispatcher.store.fleet import devices_with_elders
from dispatcher.web.console.auth import CurrentOperator, PostedForm, app_context
from dispatcher.web.console.views import render
from dispatcher.web.inputs import HelperId

router = APIRouter()


def local_midnight(now: datetime, tz: tzinfo) -> datetime:
    """Start of "today" in the dispatch centre's zone: counts reset at local midnight."""
    return datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)


@router.get("/helpers")
async def helpers_page(request: Request, operator: CurrentOperator) -> Response:
    ctx = app_context(request)
    now = ctx.clock()
    since = local_midnight(now, ctx.workflow.config.display_tz)
    async with ctx.db.session() as s:
        helpers = await roster.on_duty_first(s)
        # "Today's count": incidents the helper took on today (accepted, or assigned by hand).
        today = await roster.taken_on_since(s, since)
    stale_after = ctx.workflow.config.matching.location_max_age
    return render(
        request,
        "helpers.html",
        operator,
        helpers=helpers,
        today=today,
        stale_after=stale_after,
    )


@router.post("/helpers/{helper_id}/duty")
async def set_duty(
    helper_id: HelperId, request: Request, _operator: CurrentOperator, form: PostedForm
) -> Response:
    """On or off duty; only helpers on duty are offered incidents (as the API's duty route)."""
    ctx = app_context(request)
    async with ctx.db.session() as s:
        await roster.set_on_duty(s, helper_id, form.get("on_duty") == "1")
    return RedirectResponse("/console/helpers", status_code=303)


@router.get("/devices")
async def devices_page(request: Request, operator: CurrentOperator) -> Response:
    ctx = app_context(request)
    async with ctx.db.session() as s:
        # Offline first, then the longest silent: those are the ones to phone.
        devices = await devices_with_elders(s, 2000)
    offline = sum(not d.online for d, _ in devices)
    low = sum(d.battery_pct is not None and d.battery_pct <= 20 for d, _ in devices)
    return render(
        request, "devices.html", operator, devices=devices, offline=offline, low_battery=low
    )


__all__ = ["router"]
