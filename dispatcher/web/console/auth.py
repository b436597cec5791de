"""Signed session cookies, CSRF tokens and role checks for the console's routes.

The session is a cookie signed with itsdangerous (nothing server-side to share between
processes): a CSRF token, and once signed in the user's id and session version. Every POST
carries the token in a hidden field and must match the cookie's (synchroniser token); the
cookie is HttpOnly and SameSite=Lax, so another site can neither read nor replay it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.responses import Response

from dispatcher.errors import InvalidInput
from dispatcher.store import Session
from dispatcher.store.users import Role, User, user_by_id
from dispatcher.web.console.config import ConsoleConfig
from dispatcher.web.context import AppContext
from dispatcher.web.inputs import control_character

COOKIE = "huyuan_session"


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in form, streams answer 401."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this."""

    def __init__(self, needed: Role) -> None:
        super().__init__(needed.value)
        self.needed = needed


class CsrfRejected(Exception):
    """A POST without the session's CSRF token: refused with 403."""


@dataclass(frozen=True)
class Operator:
    """The signed-in console user, as a request sees them."""

    id: int
    username: str
    name: str
    role: Role
    csrf: str

    @property
    def actor(self) -> str:
        """What lands in the incident timeline for this person's actions."""
        return f"operator:{self.name}"

    def can(self, needed: Role | str) -> bool:
        return self.role.allows(Role(needed))


def config(request: Request) -> ConsoleConfig:
    cfg: ConsoleConfig = request.app.state.console
    return cfg


def app_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _serializer(cfg: ConsoleConfig) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(cfg.session_secret, salt="huyuan-console-session")


def read_session(request: Request) -> dict[str, Any]:
    """The verified session, or an empty one (bad signature and expiry look the same)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    cfg = config(request)
    try:
        data = _serializer(cfg).loads(raw, max_age=int(cfg.session_max_age.total_seconds()))
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def write_session(response: Response, request: Request, data: dict[str, Any]) -> None:
    cfg = config(request)
    response.set_cookie(
        COOKIE,
        _serializer(cfg).dumps(data),
        max_age=int(cfg.session_max_age.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=cfg.cookie_secure,
        path="/console",
    )


def csrf_token(request: Request) -> tuple[str, bool]:
    """The session's CSRF token, and whether it is new (then the caller must set the cookie)."""
    token = read_session(request).get("csrf")
    if isinstance(token, str) and token:
        return token, False
    return secrets.token_urlsafe(24), True


def new_session(user: User) -> dict[str, Any]:
    # A fresh token at sign-in: a token planted before sign-in is worthless afterwards.
    return {"csrf": secrets.token_urlsafe(24), "uid": user.id, "sv": user.session_version}


async def load_operator(request: Request, s: Session) -> Operator | None:
    data = read_session(request)
    uid, csrf = data.get("uid"), data.get("csrf")
    if not isinstance(uid, int) or not isinstance(csrf, str):
        return None
    user = await user_by_id(s, uid)
    if user is None or not user.active or user.session_version != data.get("sv"):
        return None
    return Operator(user.id, user.username, user.display_name, Role(user.role), csrf)


async def current_operator(request: Request) -> Operator:
    """Dependency: the signed-in user, or SignInRequired."""
    cached = getattr(request.state, "operator", None)
    if isinstance(cached, Operator):
        return cached
    async with app_context(request).db.session() as s:
        operator = await load_operator(request, s)
    if operator is None:
        raise SignInRequired
    request.state.operator = operator
    return operator


CurrentOperator = Annotated[Operator, Depends(current_operator)]


def require(role: Role) -> Any:
    """Dependency factory: the signed-in user, who must hold at least ``role``."""

    async def check(operator: CurrentOperator) -> Operator:
        if not operator.can(role):
            raise Forbidden(role)
        return operator

    return Depends(check)


def refuse_control_characters(form: FormData) -> None:
    """A form value with a control character (only a crafted request can send one) is a 422.

    Typed text keeps tab and line breaks; NUL would otherwise reach PostgreSQL, which refuses it.
    """
    for name, value in form.multi_items():
        if isinstance(value, str):
            code = control_character(value, multiline=True)
            if code is not None:
                raise InvalidInput(f"form field {name!r} holds a control character ({code})")


def check_csrf(form: FormData, expected: str) -> None:
    given = form.get("csrf")
    if not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise CsrfRejected


async def posted_form(request: Request, operator: CurrentOperator) -> FormData:
    """Dependency for every signed-in POST: the form, once its CSRF token has been checked."""
    form = await request.form()
    check_csrf(form, operator.csrf)
    refuse_control_characters(form)
    return form


PostedForm = Annotated[FormData, Depends(posted_form)]

__all__ = [
    "COOKIE",
    "CsrfRejected",
    "CurrentOperator",
    "Forbidden",
    "Operator",
    "PostedForm",
    "SignInRequired",
    "app_context",
    "check_csrf",
    "config",
    "csrf_token",
    "current_operator",
    "new_session",
    "posted_form",
    "read_session",
    "refuse_control_characters",
    "require",
    "write_session",
]
