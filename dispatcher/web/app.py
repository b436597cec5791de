"""The FastAPI application: API routes, health and readiness, every error as an RFC 9457 problem."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from dispatcher.web import problems, twilio_hooks
from dispatcher.web.api import router
from dispatcher.web.console import ConsoleConfig, mount_console
from dispatcher.web.context import AppContext
from dispatcher.web.helper_app import HelperAppConfig, mount_helper_app


def create_app(
    ctx: AppContext,
    console: ConsoleConfig | None = None,
    helper_app: HelperAppConfig | None = None,
) -> FastAPI:
    app = FastAPI(
        title="Huyuan 呼援 dispatch API",
        version="1",
        description=(
            "Elderly emergency-call dispatch: incidents, helpers, devices. "
            "Errors are RFC 9457 problems (application/problem+json)."
        ),
    )
    app.state.ctx = ctx
    app.include_router(router)
    app.include_router(twilio_hooks.router)  # Twilio's webhooks (issue 9)
    if console is not None:  # the operators' console (issue 4); API-only apps leave it out
        mount_console(app, console)
        # The helpers' app (issue 9), signed with the console's secret unless configured apart.
        mount_helper_app(
            app, helper_app or HelperAppConfig.from_console(console, ctx.workflow.config.public_url)
        )
    problems.install(app)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """Ready only while ingest is subscribed: a server deaf to devices must not look healthy."""
        ready = ctx.ready()
        return JSONResponse(
            {"ready": ready, "counters": ctx.counters()}, status_code=200 if ready else 503
        )

    return app
