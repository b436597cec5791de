"""Sign-in, sign-out and the language toggle."""

from __future__ import annotations

from math import ceil
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from dispatcher.web.console.auth import (
    COOKIE,
    CurrentOperator,
    PostedForm,
    app_context,
    check_csrf,
    config,
    csrf_token,
    new_session,
    refuse_control_characters,
    write_session,
)
from dispatcher.web.console.i18n import LANG_COOKIE, translator
from dispatcher.web.console.passwords import sign_in
from dispatcher.web.console.views import render

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only paths inside the console: ``next`` must not send anyone to another site."""
    if not target:
        return "/console/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console"):
        return "/console/"
    return target


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", None, next=safe_next(next), username="", error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    token, _ = csrf_token(request)
    check_csrf(form, token)
    refuse_control_characters(form)
    ctx, cfg = app_context(request), config(request)
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    t = translator("en" if request.cookies.get(LANG_COOKIE) == "en" else "zh")
    if not username.strip() or not password:
        return render(
            request,
            "login.html",
            None,
            422,
            next=target,
            username=username,
            error=t("login.missing"),
        )
    now = ctx.clock()
    client = request.client.host if request.client else None
    async with ctx.db.session() as s:
        result = await sign_in(
            s,
            username,
            password,
            now=now,
            client=client,
            failures=cfg.lockout_failures,
            window=cfg.lockout_window,
        )
        session = new_session(result.user) if result.user is not None else None
    if session is None:
        if result.locked_until is not None:
            minutes = max(1, ceil((result.locked_until - now).total_seconds() / 60))
            error = t("login.locked", minutes=minutes)
        else:
            error = t("login.failed")
        # The user name stays in the form; the password never comes back to the page.
        return render(request, "login.html", None, 401, next=target, username=username, error=error)
    response = RedirectResponse(target, status_code=303)
    write_session(response, request, session)
    return response


@router.post("/logout")
async def logout(_form: PostedForm, _operator: CurrentOperator) -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("/lang")
async def switch_language(to: str = "zh", next: str | None = None) -> Response:
    """A preference, not an action on data, so a plain link (GET) may set it."""
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        "en" if to == "en" else "zh",
        max_age=365 * 86400,
        samesite="lax",
        path="/console",
    )
    return response


__all__ = ["router", "safe_next"]
