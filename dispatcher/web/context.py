"""What the web layer is handed by the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dispatcher.clock import Clock
from dispatcher.store.database import Database
from dispatcher.workflow import Workflow


@dataclass
class AppContext:
    db: Database
    workflow: Workflow
    clock: Clock
    # True only while every ingest lane is connected and subscribed.
    ready: Callable[[], bool] = lambda: False
    counters: Callable[[], dict[str, int]] = field(default=lambda: {})
    # Bearer tokens the REST API accepts; empty means the API is open (demo, closed networks).
    api_tokens: frozenset[str] = frozenset()
    # Verifies Twilio's webhook signatures (with the workflow's public URL); None: hooks closed.
    twilio_auth_token: str | None = None
