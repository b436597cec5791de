"""How long the ingest client waits before each reconnect attempt: doubling from 1 s up to 30 s.

Sans-I/O: it hands out delays and never sleeps; the caller sleeps. A successful CONNACK resets it,
so a broker that comes back is retried quickly the next time it goes away. Each delay is spread by
up to ±``jitter`` so that the two lanes of every server process, all dropped by one broker
restart, do not knock on the broker at the same instant.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Exponential backoff with a cap: ``first_s``, twice that, … up to ``max_s`` and there."""

    def __init__(
        self,
        first_s: float = 1.0,
        max_s: float = 30.0,
        *,
        jitter: float = 0.1,
        uniform: Callable[[], float] = random.random,
    ) -> None:
        if not 0 < first_s <= max_s:
            raise ValueError("backoff needs 0 < first_s <= max_s")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be within [0, 1)")
        self.first_s = first_s
        self.max_s = max_s
        self._jitter = jitter
        self._uniform = uniform  # [0, 1); injected by tests for exact figures
        self._attempt = 0

    def next(self) -> float:
        """The delay before the next attempt; each call doubles the following one."""
        base = min(self.max_s, self.first_s * 2.0 ** min(self._attempt, 32))
        self._attempt += 1
        return base * (1 + self._jitter * (2 * self._uniform() - 1))

    def reset(self) -> None:
        """The connection succeeded: the next outage starts again at ``first_s``."""
        self._attempt = 0
