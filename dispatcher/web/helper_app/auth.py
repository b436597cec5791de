"""Helpers sign in with a one-time link and stay signed in through a revocable session.

The link: ``/helper/signin/<token>``, the token signed with itsdangerous (like the console's
cookies, another salt), valid for ten minutes, naming the helper, a digest of their phone number
(a number changed since makes the link worthless) and a random id that redeeming stores, so it
works once. Opening the link only shows a button: link previewers and virus scanners fetch
URLs in SMS, and a GET must not spend the link.

The session: the cookie holds a random secret, the ``helper_sessions`` row its SHA-256; an
operator revokes the row. The CSRF token is an HMAC of the cookie's secret, so it needs no
storage, and every POST must carry it (form field ``csrf`` or header ``X-CSRF-Token``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.responses import Response

from dispatcher.errors import InvalidInput
from dispatcher.store.helper_sessions import HelperIdentity, HelperSessions
from dispatcher.web.context import AppContext
from dispatcher.web.helper_app.config import HelperAppConfig
from dispatcher.web.inputs import control_character

COOKIE = "huyuan_helper"
PRE_CSRF_COOKIE = "huyuan_helper_csrf"  # before sign-in: double-submit for the open forms
PATH = "/helper"
SESSIONS = HelperSessions()


class HelperSignInRequired(Exception):
    """No live session: pages go to the sign-in page, scripts and streams get 401."""


class HelperForbidden(Exception):
    """The offer or incident belongs to someone else: a 403 problem, nothing changes."""


class HelperCsrfRejected(Exception):
    """A POST without the session's CSRF token: 403."""


class LinkRejected(Exception):
    """A sign-in link that is forged, expired, used, or for a number that changed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # bad | expired | used | stale


@dataclass(frozen=True)
class SignedInHelper:
    id: int
    session_id: int
    csrf: str

    @property
    def actor(self) -> str:
        return f"helper:{self.id}"


def helper_config(request: Request) -> HelperAppConfig:
    cfg: HelperAppConfig = request.app.state.helper_app
    return cfg


def app_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


# ---- one-time links -----------------------------------------------------------------------


def _links(cfg: HelperAppConfig) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(cfg.secret, salt="huyuan-helper-signin")


def phone_digest(secret: str, phone: str) -> str:
    """Binds a link to the number it was sent to, without putting the number in the URL."""
    return hmac.new(secret.encode(), phone.encode(), hashlib.sha256).hexdigest()[:16]


def make_link_token(cfg: HelperAppConfig, helper: HelperIdentity) -> str:
    payload = {
        "h": helper.id,
        "p": phone_digest(cfg.secret, helper.phone),
        "j": secrets.token_hex(16),
    }
    return _links(cfg).dumps(payload)


def link_url(cfg: HelperAppConfig, token: str) -> str:
    base = (cfg.public_url or "").rstrip("/")
    return f"{base}{PATH}/signin/{token}"


def read_link_token(cfg: HelperAppConfig, token: str) -> tuple[int, str, str]:
    """(helper id, phone digest, link id) of a genuine, unexpired token; else LinkRejected."""
    try:
        data = _links(cfg).loads(token, max_age=int(cfg.link_max_age.total_seconds()))
    except SignatureExpired as exc:
        raise LinkRejected("expired") from exc
    except BadSignature as exc:
        raise LinkRejected("bad") from exc
    if not isinstance(data, dict):
        raise LinkRejected("bad")
    helper_id, digest, jti = data.get("h"), data.get("p"), data.get("j")
    if not isinstance(helper_id, int) or not isinstance(digest, str) or not isinstance(jti, str):
        raise LinkRejected("bad")
    return helper_id, digest, jti


# ---- sessions -----------------------------------------------------------------------------


def csrf_for(cfg: HelperAppConfig, cookie_secret: str) -> str:
    return hmac.new(
        cfg.secret.encode(), b"csrf:" + cookie_secret.encode(), hashlib.sha256
    ).hexdigest()[:32]


def set_session_cookie(response: Response, cfg: HelperAppConfig, cookie_secret: str) -> None:
    response.set_cookie(
        COOKIE,
        cookie_secret,
        max_age=int(cfg.session_max_age.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cfg.cookie_secure,
        path=PATH,
    )


async def load_helper(request: Request) -> SignedInHelper | None:
    secret = request.cookies.get(COOKIE)
    if not secret or len(secret) > 200:
        return None
    cfg, ctx = helper_config(request), app_context(request)
    async with ctx.db.session() as s:
        ref = await SESSIONS.find(s, secret, ctx.clock(), cfg.session_max_age)
    if ref is None:
        return None
    return SignedInHelper(ref.helper_id, ref.id, csrf_for(cfg, secret))


async def current_helper(request: Request) -> SignedInHelper:
    """Dependency: the signed-in helper, or HelperSignInRequired."""
    cached = getattr(request.state, "helper", None)
    if isinstance(cached, SignedInHelper):
        return cached
    helper = await load_helper(request)
    if helper is None:
        raise HelperSignInRequired
    request.state.helper = helper
    return helper


CurrentHelper = Annotated[SignedInHelper, Depends(current_helper)]


def _refuse_control_characters(form: FormData) -> None:
    for name, value in form.multi_items():
        if isinstance(value, str) and control_character(value, multiline=True) is not None:
            raise InvalidInput(f"form field {name!r} holds a control character")


def check_token(given: Any, expected: str) -> None:
    if not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise HelperCsrfRejected


async def posted_form(request: Request, helper: CurrentHelper) -> FormData:
    """Dependency for every signed-in POST: the form, once its CSRF token has been checked."""
    form = await request.form()
    check_token(form.get("csrf") or request.headers.get("x-csrf-token"), helper.csrf)
    _refuse_control_characters(form)
    return form


HelperForm = Annotated[FormData, Depends(posted_form)]


def pre_csrf(request: Request) -> tuple[str, bool]:
    """The visitor's pre-sign-in CSRF token, and whether it is new (then set the cookie)."""
    token = request.cookies.get(PRE_CSRF_COOKIE)
    if token and 20 <= len(token) <= 64:
        return token, False
    return secrets.token_urlsafe(24), True


def set_pre_csrf(response: Response, cfg: HelperAppConfig, token: str) -> None:
    response.set_cookie(
        PRE_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cfg.cookie_secure,
        path=PATH,
    )


async def open_form(request: Request) -> FormData:
    """A POST before sign-in: its ``csrf`` field must match the visitor's cookie."""
    form = await request.form()
    check_token(form.get("csrf"), request.cookies.get(PRE_CSRF_COOKIE) or "\x00")
    _refuse_control_characters(form)
    return form


def now(request: Request) -> datetime:
    return app_context(request).clock()


__all__ = [
    "COOKIE",
    "PRE_CSRF_COOKIE",
    "SESSIONS",
    "CurrentHelper",
    "HelperCsrfRejected",
    "HelperForbidden",
    "HelperForm",
    "HelperSignInRequired",
    "LinkRejected",
    "SignedInHelper",
    "app_context",
    "check_token",
    "csrf_for",
    "current_helper",
    "helper_config",
    "link_url",
    "make_link_token",
    "open_form",
    "phone_digest",
    "pre_csrf",
    "read_link_token",
    "set_pre_csrf",
    "set_session_cookie",
]
