"""The helpers' web app under /helper/: one-time-link sign-in, duty and position, the offer,
the incident and its elder, check-in, close, hand back, history, and a practice mode.

Server-rendered pages plus one small script, installable as a PWA (manifest + service worker),
live over SSE. ``mount_helper_app(app, config)`` adds it; see docs/helper-app.md.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

# Imported for its side effect too: registers the helper-app tables on Base.metadata.
from dispatcher.store import helper_sessions as _helper_sessions  # noqa: F401
from dispatcher.web.console.config import ConsoleConfig
from dispatcher.web.helper_app import screens, signin, stream
from dispatcher.web.helper_app.auth import (
    PATH,
    HelperCsrfRejected,
    HelperForbidden,
    HelperSignInRequired,
)
from dispatcher.web.helper_app.config import HelperAppConfig
from dispatcher.web.helper_app.signin import issue_link
from dispatcher.web.problems import problem_response

STATIC = Path(__file__).with_name("static")

MANIFEST = {
    "name": "护援 · 助老员",
    "short_name": "护援助老",
    "description": "Huyuan helper app: answer calls for help from elders nearby.",
    "lang": "zh-CN",
    "start_url": f"{PATH}/",
    "scope": f"{PATH}/",
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": "#b3261e",
    "icons": [
        {"src": f"{PATH}/static/icon.svg", "sizes": "any", "type": "image/svg+xml"},
    ],
}


def helper_router() -> APIRouter:
    router = APIRouter(prefix=PATH, include_in_schema=False)
    for module in (signin, stream, screens):
        router.include_router(module.router)

    @router.get("/manifest.webmanifest")
    async def manifest() -> Response:
        return JSONResponse(MANIFEST, media_type="application/manifest+json")

    @router.get("/sw.js")
    async def service_worker() -> Response:
        # Served from /helper/ (not /helper/static/) so its scope covers the whole app.
        return FileResponse(
            STATIC / "sw.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache"},
        )

    return router


def mount_helper_app(app: FastAPI, config: HelperAppConfig) -> None:
    app.state.helper_app = config
    app.include_router(helper_router())
    app.mount(f"{PATH}/static", StaticFiles(directory=STATIC), name="helper-static")

    @app.exception_handler(HelperSignInRequired)
    async def sign_in_required(request: Request, _exc: HelperSignInRequired) -> Response:
        if request.method == "GET" and not request.url.path.endswith("/stream"):
            return RedirectResponse(f"{PATH}/login", status_code=303)
        return problem_response(401, detail="sign in to the helper app first")

    @app.exception_handler(HelperForbidden)
    async def forbidden(_request: Request, _exc: HelperForbidden) -> Response:
        return problem_response(403, kind="forbidden", detail="this offer or incident is not yours")

    @app.exception_handler(HelperCsrfRejected)
    async def csrf_rejected(_request: Request, _exc: HelperCsrfRejected) -> Response:
        return problem_response(403, kind="csrf", detail="missing or wrong CSRF token")


def mount_for_console(app: FastAPI, console: ConsoleConfig, public_url: str | None) -> None:
    """Mount signed with the console's secret (so one secret is shared between processes)."""
    mount_helper_app(app, HelperAppConfig.from_console(console, public_url))


__all__ = [
    "HelperAppConfig",
    "helper_router",
    "issue_link",
    "mount_for_console",
    "mount_helper_app",
]
