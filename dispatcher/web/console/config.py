"""What the console is configured with, built once by the composition root from ``Settings``."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"


@dataclass(frozen=True)
class ConsoleConfig:
    session_secret: str
    session_max_age: timedelta = timedelta(hours=12)
    cookie_secure: bool = False
    lockout_failures: int = 5
    lockout_window: timedelta = timedelta(minutes=15)
    # Empty: no tile layer at all (closed networks); points and circles still draw.
    tile_url: str = OSM_TILES
    tile_attribution: str = OSM_ATTRIBUTION
    sse_poll_s: float = 1.0
    sse_keepalive_s: float = 15.0
    # Set by the server on SIGTERM: open SSE streams end, so uvicorn's graceful shutdown
    # (which waits for every open response) is not held up by operators' browsers.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


def load_or_create_secret(configured: str | None, data_dir: Path) -> str:
    """The configured secret, else one kept in ``data_dir`` so sessions survive a restart.

    Several processes behind one load balancer must share it: set HUYUAN_CONSOLE_SESSION_SECRET.
    """
    if configured:
        return configured
    path = data_dir / "console-session-secret"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret, encoding="utf-8")
    return secret


__all__ = ["ConsoleConfig", "load_or_create_secret"]
