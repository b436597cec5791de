"""Rendering for the helper app: one Jinja2 environment (autoescaped), labels, and the headers
every page carries (no caching of personal data, no framing, scripts only from here)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from dispatcher.web.helper_app.auth import app_context, helper_config

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
}

# (Chinese, English) for what the screens name.
KINDS = {
    "sos": ("一键呼救", "SOS"),
    "fall": ("跌倒", "Fall"),
    "vitals": ("体征异常", "Abnormal vitals"),
    "alarm": ("设备告警", "Device alarm"),
    "request": ("生活求助", "Help request"),
}
CATEGORIES = {"emergency": ("紧急", "Emergency"), "general": ("一般", "General")}
STATES = {
    "open": ("待派", "Open"),
    "offered": ("派单中", "Offered"),
    "assigned": ("已接单·途中", "On the way"),
    "on_scene": ("已到场", "On scene"),
    "resolved": ("已办结", "Closed"),
    "cancelled": ("误报·取消", "Cancelled"),
}
DECLINE_REASONS = {
    "far": ("距离太远", "Too far"),
    "busy": ("正在忙", "Busy right now"),
    "transport": ("交通不便", "No transport"),
    "unwell": ("身体不适", "Unwell"),
    "other": ("其他原因", "Other"),
}
FAR_REASONS = {
    "gps": ("定位不准", "Location is inaccurate"),
    "entrance": ("在楼下或门外", "At the building entrance"),
    "elsewhere": ("老人不在家，在附近找到", "Found the elder nearby, not at home"),
    "other": ("其他原因", "Other"),
}
OUTCOMES = {
    "fine": ("已处理，老人平安", "Handled, the elder is fine"),
    "hospital": ("已送医 / 交 120", "Taken to hospital / handed to 120"),
    "family": ("家属已到场接手", "Family took over"),
    "false": ("误报，老人无事", "False alarm, nothing wrong"),
    "other": ("其他", "Other"),
}
WITHDRAW_REASONS = {
    "late": ("无法按时到达", "Cannot make it in time"),
    "own": ("自己有突发情况", "An emergency of my own"),
    "blocked": ("交通受阻", "Road blocked"),
    "other": ("其他原因", "Other"),
}
MESSAGES = {
    "accepted": ("已接单，请尽快出发。", "Accepted: please set off now."),
    "declined": ("已拒绝，系统将派给其他人。", "Declined: the centre asks someone else."),
    "arrived": ("已签到到达。", "Arrival recorded."),
    "resolved": ("任务已办结，谢谢！", "Closed. Thank you!"),
    "withdrawn": ("已交回，中心正在改派。", "Handed back: the centre is re-dispatching."),
    "on": ("已上岗，正在共享位置。", "On duty: sharing your location."),
    "off": ("已下岗，不再接收派单。", "Off duty: no offers until you come back."),
    "signed_in": ("登录成功。", "Signed in."),
}


def page_values(request: Request, **values: Any) -> dict[str, Any]:
    ctx, cfg = app_context(request), helper_config(request)
    tz = ctx.workflow.config.display_tz
    now = ctx.clock()

    def local(at: datetime | None, fmt: str = "%H:%M") -> str:
        return at.astimezone(tz).strftime(fmt) if at is not None else "—"

    return {
        "now": now,
        "local": local,
        "cfg": cfg,
        "kinds": KINDS,
        "categories": CATEGORIES,
        "states": STATES,
        "decline_reasons": DECLINE_REASONS,
        "far_reasons": FAR_REASONS,
        "outcomes": OUTCOMES,
        "withdraw_reasons": WITHDRAW_REASONS,
        **values,
    }


def render(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(
        request, template, page_values(request, **values), status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    return response


__all__ = [
    "DECLINE_REASONS",
    "FAR_REASONS",
    "MESSAGES",
    "OUTCOMES",
    "SECURITY_HEADERS",
    "TEMPLATES",
    "WITHDRAW_REASONS",
    "render",
]
