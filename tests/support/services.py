"""Real services for the tests, and the one rule for their absence.

Under ``CI=true`` a missing service fails the test; elsewhere it is skipped with the reason shown,
so a developer without PostgreSQL still runs everything else.
"""

from __future__ import annotations

import os

import pytest


def service_missing(what: str) -> None:
    """Fail under CI (a missing service must never pass silently), skip with reason elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is required under CI=true but is not available")
    pytest.skip(f"{what} not available (set it up, or run under CI=true to make this a failure)")
