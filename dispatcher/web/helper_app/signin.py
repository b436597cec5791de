"""Sign-in pages: ask for a link by phone number, redeem a link, sign out.

The phone form answers the same whatever the number (nobody learns who is a helper), and
sends at most ``signin_sms_per_hour`` links to one number an hour.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from dispatcher.notifier.texts import SIGNATURE
from dispatcher.store import Session
from dispatcher.store.helper_sessions import SIGNIN_PURPOSE, HelperIdentity
from dispatcher.store.sms_inbox import SmsInbox
from dispatcher.web.helper_app.auth import (
    COOKIE,
    PATH,
    SESSIONS,
    CurrentHelper,
    HelperForm,
    LinkRejected,
    app_context,
    helper_config,
    link_url,
    load_helper,
    make_link_token,
    open_form,
    phone_digest,
    pre_csrf,
    read_link_token,
    set_pre_csrf,
    set_session_cookie,
)
from dispatcher.web.helper_app.config import HelperAppConfig
from dispatcher.web.helper_app.views import render

log = structlog.get_logger(__name__)
router = APIRouter()


def signin_sms(helper: HelperIdentity, url: str, minutes: int) -> str:
    return (
        f"{SIGNATURE}{helper.name}，助老员登录链接（{minutes}分钟内有效，仅限一次）："
        f"{url} 非本人操作请忽略"
    )


def issue_link(
    s: Session,
    cfg: HelperAppConfig,
    queue: QueueMessage,
    helper: HelperIdentity,
    now: datetime,
    *,
    send_sms: bool,
) -> str:
    """A fresh one-time link for ``helper``; with ``send_sms`` it also goes out by SMS."""
    url = link_url(cfg, make_link_token(cfg, helper))
    if send_sms:
        minutes = int(cfg.link_max_age.total_seconds() // 60)
        queue(
            s,
            None,
            now,
            channel="sms",
            purpose=SIGNIN_PURPOSE,
            recipient=helper.phone,
            body=signin_sms(helper, url, minutes),
        )
    return url


class QueueMessage(Protocol):  # IncidentRepository.queue_message's shape
    def __call__(
        self,
        s: Session,
        incident_id: int | None,
        now: datetime,
        *,
        channel: str,
        purpose: str,
        recipient: str,
        body: str,
    ) -> None: ...


def _form_page(request: Request, template: str, status: int = 200, **values: object) -> Response:
    token, fresh = pre_csrf(request)
    response = render(request, template, status, csrf=token, **values)
    if fresh:
        set_pre_csrf(response, helper_config(request), token)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    if await load_helper(request) is not None:
        return RedirectResponse(f"{PATH}/", status_code=303)
    return _form_page(request, "login.html", sent=False, error=None)


@router.post("/login")
async def ask_for_link(request: Request) -> Response:
    form = await open_form(request)
    phone = str(form.get("phone", "")).strip()[:32]
    if not phone:
        return _form_page(request, "login.html", 422, sent=False, error="phone")
    ctx, cfg = app_context(request), helper_config(request)
    now = ctx.clock()
    async with ctx.db.session() as s:
        ids = await SmsInbox(ctx.db).helpers_with_phone(s, phone)
        helper = await SESSIONS.helper(s, ids[0]) if len(ids) == 1 else None
        if helper is not None:
            recent = await SESSIONS.recent_signin_sms(s, helper.phone, now - timedelta(hours=1))
            if recent < cfg.signin_sms_per_hour:
                queue = ctx.workflow.incidents.queue_message
                issue_link(s, cfg, queue, helper, now, send_sms=True)
                log.info("helper_link_sent", helper_id=helper.id)
            else:
                log.warning("helper_link_rate_limited", helper_id=helper.id)
    # The same answer whether or not the number belongs to a helper.
    return _form_page(request, "login.html", sent=True, error=None)


@router.get("/signin/{token}")
async def link_page(request: Request, token: str) -> Response:
    """Shows a button: opening the link (or a previewer fetching it) does not spend it."""
    cfg = helper_config(request)
    try:
        read_link_token(cfg, token)
    except LinkRejected as exc:
        return _form_page(request, "link.html", 400, token=None, problem=exc.reason)
    return _form_page(request, "link.html", token=token, problem=None)


@router.post("/signin/{token}")
async def redeem_link(request: Request, token: str) -> Response:
    await open_form(request)
    ctx, cfg = app_context(request), helper_config(request)
    now = ctx.clock()
    try:
        helper_id, digest, jti = read_link_token(cfg, token)
        async with ctx.db.session() as s:
            helper = await SESSIONS.helper(s, helper_id)
            if helper is None or digest != phone_digest(cfg.secret, helper.phone):
                raise LinkRejected("stale")
            if not await SESSIONS.use_link(s, jti, helper.id, now):
                raise LinkRejected("used")
            secret = secrets.token_urlsafe(32)
            await SESSIONS.open(s, helper.id, secret, now, request.headers.get("user-agent"))
    except LinkRejected as exc:
        log.info("helper_link_refused", reason=exc.reason)
        return _form_page(request, "link.html", 400, token=None, problem=exc.reason)
    log.info("helper_signed_in", helper_id=helper.id)
    response = RedirectResponse(f"{PATH}/?m=signed_in", status_code=303)
    set_session_cookie(response, cfg, secret)
    return response


@router.post("/logout")
async def logout(request: Request, helper: CurrentHelper, _form: HelperForm) -> Response:
    ctx = app_context(request)
    async with ctx.db.session() as s:
        await SESSIONS.revoke(s, helper.session_id, ctx.clock())
    response = RedirectResponse(f"{PATH}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PATH)
    return response


__all__ = ["issue_link", "router", "signin_sms"]
