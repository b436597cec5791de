"""Fixtures of the MQTT adapter tests (the broker itself comes from tests/conftest.py)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest


@pytest.fixture
def device() -> str:
    """A device id no other test (or parallel run) uses, so topics never collide."""
    return f"t{uuid.uuid4().hex[:16]}"


@pytest.fixture(autouse=True)
def _no_leaked_network_threads() -> Iterator[None]:
    """Every paho network thread a test starts is stopped by the end of that test."""
    before = set(threading.enumerate())
    yield
    leaked = [
        t for t in threading.enumerate() if t not in before and t.name.startswith("paho-mqtt-")
    ]
    assert not leaked, f"paho threads still running: {leaked}"
