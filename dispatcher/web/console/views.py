"""Rendering: one Jinja2 environment, and the values every page gets (user, language, CSRF).

Pages are server-rendered; the few scripts in ``static/`` only add the live parts (stream,
countdown, sound, map). Times are shown in the dispatch centre's zone (``display_tz``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from dispatcher.timeline_text import describe
from dispatcher.web.console.auth import Operator, app_context, config, csrf_token, write_session
from dispatcher.web.console.i18n import Translate, language, register, translator

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))

register(
    {
        "age.now": ("刚刚", "just now"),
        "age.s": ("{n} 秒前", "{n} s ago"),
        "age.min": ("{n} 分钟前", "{n} min ago"),
        "age.h": ("{n} 小时前", "{n} h ago"),
        "age.d": ("{n} 天前", "{n} d ago"),
        "age.never": ("从未", "never"),
    }
)


def age_text(t: Translate, at: datetime | None, now: datetime) -> str:
    """How long ago, in the coarsest unit that still helps ("3 分钟前")."""
    if at is None:
        return t("age.never")
    seconds = int((now - at).total_seconds())
    if seconds < 5:
        return t("age.now")
    if seconds < 60:
        return t("age.s", n=seconds)
    if seconds < 3600:
        return t("age.min", n=seconds // 60)
    if seconds < 86400:
        return t("age.h", n=seconds // 3600)
    return t("age.d", n=seconds // 86400)


def actor_text(t: Translate, actor: str) -> str:
    """Who did it, as the timeline shows it: operators by name, helpers and devices by id."""
    kind, _, ident = actor.partition(":")
    if kind == "operator":
        return ident
    if kind in ("helper", "device"):
        return t(f"actor.{kind}", id=ident)
    return t("actor.system") if actor == "system" else actor


def page_values(request: Request, operator: Operator | None) -> dict[str, Any]:
    ctx = app_context(request)
    lang = language(request)
    t = translator(lang)
    now = ctx.clock()
    tz = ctx.workflow.config.display_tz

    def local(at: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
        return at.astimezone(tz).strftime(fmt) if at is not None else "—"

    return {
        "op": operator,
        "lang": lang,
        "t": t,
        "now": now,
        "ago": lambda at: age_text(t, at, now),
        "actor": lambda actor: actor_text(t, actor),
        "local": local,
        # Timeline lines from their codes, in the reader's language and local time.
        "describe": lambda action, detail: describe(action, detail, lang, tz),
        "cfg": config(request),
        "path": request.url.path,
        "tz_name": getattr(tz, "key", "UTC"),
    }


def render(
    request: Request,
    template: str,
    operator: Operator | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A full page; sets the session cookie too when the visitor had no CSRF token yet."""
    token, fresh = (operator.csrf, False) if operator else csrf_token(request)
    context = {**page_values(request, operator), "csrf": token, **values}
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
    if fresh:
        write_session(response, request, {"csrf": token})
    return response


__all__ = ["TEMPLATES", "age_text", "page_values", "render"]
