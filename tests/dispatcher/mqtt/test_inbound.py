"""The buffer between paho's message callback and next_batch: batching, waking, bounds, failure.

Both sides run on the event loop (paho is driven by it), so the producer here is a callback the
loop runs later, as the socket's reader would be.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from dispatcher.mqtt import Inbound, MqttError
from dispatcher.mqtt.inbound import InboundBuffer


def _msg(n: int, qos: int = 1) -> Inbound:
    return Inbound(f"hyt/v1/d/d1/tel/location/{n}", b"{}", n, qos, datetime.now(UTC), connection=1)


def _later(delay_s: float, action: object) -> asyncio.TimerHandle:
    """Run ``action`` on the loop after ``delay_s``, as a readable socket would."""
    assert callable(action)
    return asyncio.get_running_loop().call_later(delay_s, action)


async def test_waits_for_the_first_message() -> None:
    """next_batch waits until something is put, then returns it."""
    buffer = InboundBuffer(100)
    _later(0.05, lambda: buffer.put(_msg(1)))
    batch = await buffer.next_batch(10, 0)
    assert [m.mid for m in batch] == [1]


async def test_returns_at_once_what_is_already_there_up_to_max_items() -> None:
    """Buffered messages come out in order, max_items at a time, without waiting the window."""
    buffer = InboundBuffer(100)
    for n in range(25):
        buffer.put(_msg(n))
    started = time.monotonic()
    first = await buffer.next_batch(10, 5.0)
    assert time.monotonic() - started < 1
    assert [m.mid for m in first] == list(range(10))
    assert len(buffer) == 15


async def test_gathers_what_arrives_within_the_window() -> None:
    """After the first message, the batch takes what arrives until max_wait_s, then returns."""
    buffer = InboundBuffer(100)
    buffer.put(_msg(1))
    _later(0.05, lambda: buffer.put(_msg(2)))
    started = time.monotonic()
    batch = await buffer.next_batch(10, 0.3)
    assert [m.mid for m in batch] == [1, 2]
    assert 0.25 < time.monotonic() - started < 2


async def test_a_full_batch_ends_the_window_early() -> None:
    """A thousand messages put during the window end it as soon as the batch is full."""
    buffer = InboundBuffer(10_000)
    buffer.put(_msg(0))

    def flood() -> None:
        for n in range(1, 1000):
            buffer.put(_msg(n))

    _later(0.05, flood)
    started = time.monotonic()
    batch = await buffer.next_batch(1000, 10.0)
    assert len(batch) == 1000
    assert time.monotonic() - started < 5


async def test_qos0_is_dropped_past_the_bound_and_qos1_never() -> None:
    """A full buffer drops and counts QoS 0 telemetry but keeps every QoS 1 message."""
    buffer = InboundBuffer(max_items=2)
    assert buffer.put(_msg(1))
    assert buffer.put(_msg(2, qos=0))
    assert not buffer.put(_msg(3, qos=0))
    assert buffer.put(_msg(4))
    assert buffer.dropped_qos0 == 1
    assert [m.mid for m in await buffer.next_batch(10, 0)] == [1, 2, 4]


async def test_a_failure_reaches_the_waiting_and_later_callers() -> None:
    """fail() makes the waiting next_batch raise, and every later one, messages or not."""
    buffer = InboundBuffer(100)
    _later(0.05, lambda: buffer.fail(MqttError("re-subscription refused")))
    with pytest.raises(MqttError, match="refused"):
        await buffer.next_batch(10, 0)
    buffer.put(_msg(1))
    with pytest.raises(MqttError, match="refused"):
        await buffer.next_batch(10, 0)


async def test_a_cancelled_wait_loses_nothing() -> None:
    """Cancelling next_batch (a shutdown) leaves later messages in the buffer for the next call."""
    buffer = InboundBuffer(100)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await buffer.next_batch(10, 0)
    buffer.put(_msg(7))
    assert [m.mid for m in await buffer.next_batch(10, 0)] == [7]


async def test_two_concurrent_consumers_are_a_programming_error() -> None:
    """One buffer feeds one ingest task; a second waiter is refused rather than starved."""
    buffer = InboundBuffer(100)
    first = asyncio.create_task(buffer.next_batch(10, 0))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already"):
        await buffer.next_batch(10, 0)
    buffer.put(_msg(1))
    assert [m.mid for m in await first] == [1]


def test_refuses_an_empty_bound() -> None:
    """A buffer of zero messages is a programming error."""
    with pytest.raises(ValueError, match="at least 1"):
        InboundBuffer(0)


def test_put_and_fail_need_no_running_loop() -> None:
    """The producer side never needs a loop: nothing waits, nothing is scheduled."""
    buffer = InboundBuffer(10)
    assert buffer.put(_msg(1))
    buffer.fail(MqttError("late"))
    assert len(buffer) == 1
