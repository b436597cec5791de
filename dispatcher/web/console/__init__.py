"""The operators' console: server-rendered pages under /console, live queue over SSE.

``mount_console(app, config)`` adds the routes, the static files and the error pages; the
composition root builds the ``ConsoleConfig`` from settings.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import PlainTextResponse, RedirectResponse, Response

# Imported for its side effect too: registers the console tables on Base.metadata.
from dispatcher.store import users as _users  # noqa: F401
from dispatcher.web.console import actions, elders, queue, roster, signin, stats, stream
from dispatcher.web.console import labels as _labels  # noqa: F401 (registers the screens' labels)
from dispatcher.web.console.auth import CsrfRejected, Forbidden, SignInRequired
from dispatcher.web.console.config import ConsoleConfig, load_or_create_secret
from dispatcher.web.console.i18n import language, translator
from dispatcher.web.console.views import render

STATIC = Path(__file__).with_name("static")


def console_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    # queue before actions: "/incidents/{id}/take" must not be read as a generic action.
    for module in (signin, queue, stream, actions, roster, elders, stats):
        router.include_router(module.router)
    return router


def mount_console(app: FastAPI, config: ConsoleConfig) -> None:
    app.state.console = config
    app.include_router(console_router())
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/console/", status_code=307)

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, _exc: SignInRequired) -> Response:
        if request.method != "GET" or request.url.path.endswith("/stream"):
            return PlainTextResponse("sign in first", status_code=401)
        target = quote(
            str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        )
        return RedirectResponse(f"/console/login?next={target}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        t = translator(language(request))
        message = t("error.forbidden", role=t(f"role.{exc.needed.value}"))
        return render(request, "error.html", None, 403, message=message)

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, _exc: CsrfRejected) -> Response:
        message = translator(language(request))("error.csrf")
        return render(request, "error.html", None, 403, message=message)


__all__ = ["ConsoleConfig", "console_router", "load_or_create_secret", "mount_console"]
