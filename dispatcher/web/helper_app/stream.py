"""Live updates for the helper's screen: server-sent events fed by polling the database.

Several server processes may write (an offer can come from any of them), so each open stream
polls a cheap change marker for its own helper every ``sse_poll_s`` and sends ``changed`` when
it moves; the page then fetches itself again. A session revoked meanwhile ends the stream with
``signout``. One stream per open helper page: a few hundred helpers are a few hundred small
queries every two seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from dispatcher.store.helper_view import HelperView
from dispatcher.web.helper_app.auth import SESSIONS, CurrentHelper, app_context, helper_config

router = APIRouter()
VIEW = HelperView()


async def _events(request: Request, helper_id: int, session_id: int) -> AsyncIterator[str]:
    cfg, ctx = helper_config(request), app_context(request)
    loop = asyncio.get_running_loop()
    sent: tuple[object, ...] | None = None
    last_write = loop.time()
    yield "retry: 3000\n\n"
    while not cfg.stopping.is_set() and not await request.is_disconnected():
        async with ctx.db.read_session() as s:
            if not await SESSIONS.is_live(s, session_id):
                yield "event: signout\ndata: {}\n\n"
                return
            marker = await VIEW.marker(s, helper_id)
        if marker != sent:
            yield f"event: {'hello' if sent is None else 'changed'}\ndata: {{}}\n\n"
            sent, last_write = marker, loop.time()
        elif loop.time() - last_write >= cfg.sse_keepalive_s:
            yield ": keepalive\n\n"
            last_write = loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cfg.stopping.wait(), timeout=cfg.sse_poll_s)


@router.get("/stream")
async def stream(request: Request, helper: CurrentHelper) -> StreamingResponse:
    return StreamingResponse(
        _events(request, helper.id, helper.session_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


__all__ = ["router"]
