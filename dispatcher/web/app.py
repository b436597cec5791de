"""The FastAPI application: API routes, health and readiness, domain errors as HTTP problems."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dispatcher.errors import Conflict, DispatchError, InvalidInput, NotFound
from dispatcher.web.api import router
from dispatcher.web.console import ConsoleConfig, mount_console
from dispatcher.web.context import AppContext

STATUS = {NotFound: 404, Conflict: 409, InvalidInput: 422}


def create_app(ctx: AppContext, console: ConsoleConfig | None = None) -> FastAPI:
    app = FastAPI(
        title="Huyuan 呼援 dispatch API",
        version="1",
        description="Elderly emergency-call dispatch: incidents, helpers, devices.",
    )
    app.state.ctx = ctx
    app.include_router(router)
    if console is not None:  # the operators' console (issue 4); API-only apps leave it out
        mount_console(app, console)

    @app.exception_handler(DispatchError)
    async def domain_error(_request: Request, exc: DispatchError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=STATUS.get(type(exc), 400))

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
