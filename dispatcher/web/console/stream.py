"""Server-sent events for the live queue, fed by polling the database.

The database is the source of truth and several server processes may be writing to it, so an
in-process pub/sub would miss changes made by another process. Each stream asks a shared
``ChangeWatch`` for a cheap change marker; the watch runs at most one query per poll interval
per process however many operators are connected, and a stream renders rows only on change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from dispatcher.store.database import Database
from dispatcher.store.read_models import QueueMarker as Marker
from dispatcher.store.read_models import queue_marker
from dispatcher.web.console.auth import CurrentOperator, app_context, config
from dispatcher.web.console.queue import counts, queue_rows
from dispatcher.web.console.views import TEMPLATES, page_values

router = APIRouter()


class ChangeWatch:
    """One shared, rate-limited answer to "has anything in the queue changed?"."""

    def __init__(self, db: Database, poll_s: float) -> None:
        self.db = db
        self.poll_s = poll_s
        self._lock = asyncio.Lock()
        self._checked_at = float("-inf")
        self._marker: Marker = ()

    async def marker(self) -> Marker:
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if now - self._checked_at >= self.poll_s * 0.9:
                self._marker = await self._query()
                self._checked_at = now
            return self._marker

    async def _query(self) -> Marker:
        async with self.db.read_session() as s:
            return await queue_marker(s)


def watch_for(request: Request) -> ChangeWatch:
    state = request.app.state
    watch: ChangeWatch | None = getattr(state, "console_watch", None)
    if watch is None:
        watch = state.console_watch = ChangeWatch(
            app_context(request).db, config(request).sse_poll_s
        )
    return watch


def sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def _queue_events(request: Request, operator: CurrentOperator) -> AsyncIterator[str]:
    cfg, ctx, watch = config(request), app_context(request), watch_for(request)
    loop = asyncio.get_running_loop()
    sent: Marker | None = None
    last_write = loop.time()
    yield "retry: 2000\n\n"  # the browser reconnects by itself after a drop
    while not cfg.stopping.is_set() and not await request.is_disconnected():
        marker = await watch.marker()
        if marker != sent:
            async with ctx.db.read_session() as s:
                rows = await queue_rows(s)
            values = {**page_values(request, operator), "csrf": operator.csrf, "rows": rows}
            html = TEMPLATES.get_template("_queue_rows.html").render(values)
            yield sse(
                "queue", json.dumps({"rows": html, "counts": counts(rows)}, ensure_ascii=False)
            )
            sent, last_write = marker, loop.time()
        elif loop.time() - last_write >= cfg.sse_keepalive_s:
            yield ": keepalive\n\n"  # proxies close idle connections
            last_write = loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cfg.stopping.wait(), timeout=cfg.sse_poll_s)


@router.get("/stream")
async def queue_stream(request: Request, operator: CurrentOperator) -> StreamingResponse:
    return StreamingResponse(
        _queue_events(request, operator),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


__all__ = ["ChangeWatch", "router", "sse"]
