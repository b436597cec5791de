"""The hand-off from paho's thread to asyncio: batching, waking, bounds and failure."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from dispatcher.mqtt import Inbound, MqttError
from dispatcher.mqtt.inbound import InboundBuffer


def _msg(n: int, qos: int = 1) -> Inbound:
    return Inbound(f"hyt/v1/d/d1/tel/location/{n}", b"{}", n, qos, datetime.now(UTC))


def _later(delay_s: float, action: Callable[[], object]) -> threading.Thread:
    """Run ``action`` in another thread after ``delay_s``, as paho's network thread would."""

    def run() -> None:
        time.sleep(delay_s)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


class _CountingLoop:
    """The running loop, counting the cross-thread wake-ups the buffer asks for."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.wakeups = 0

    def call_soon_threadsafe(self, callback: Callable[..., object], *args: Any) -> None:
        self.wakeups += 1
        self.loop.call_soon_threadsafe(callback, *args)


async def _bound_buffer(max_items: int = 100) -> InboundBuffer:
    buffer = InboundBuffer(max_items)
    buffer.bind(asyncio.get_running_loop())
    return buffer


async def test_waits_for_the_first_message_from_another_thread() -> None:
    """next_batch blocks until the network thread puts something, then returns it."""
    buffer = await _bound_buffer()
    thread = _later(0.05, lambda: buffer.put(_msg(1)))
    batch = await buffer.next_batch(10, 0)
    thread.join()
    assert [m.mid for m in batch] == [1]


async def test_returns_at_once_what_is_already_there_up_to_max_items() -> None:
    """Buffered messages come out in order, max_items at a time, without waiting the window."""
    buffer = await _bound_buffer()
    for n in range(25):
        buffer.put(_msg(n))
    started = time.monotonic()
    first = await buffer.next_batch(10, 5.0)
    assert time.monotonic() - started < 1
    assert [m.mid for m in first] == list(range(10))
    assert len(buffer) == 15


async def test_gathers_what_arrives_within_the_window() -> None:
    """After the first message, the batch takes what arrives until max_wait_s, then returns."""
    buffer = await _bound_buffer()
    buffer.put(_msg(1))
    thread = _later(0.05, lambda: buffer.put(_msg(2)))
    started = time.monotonic()
    batch = await buffer.next_batch(10, 0.3)
    thread.join()
    assert [m.mid for m in batch] == [1, 2]
    assert 0.25 < time.monotonic() - started < 2


async def test_a_full_batch_ends_the_window_early_with_one_wakeup() -> None:
    """A thousand messages put during the window wake the waiter once, when the batch is full."""
    buffer = InboundBuffer(10_000)
    counting = _CountingLoop(asyncio.get_running_loop())
    buffer.bind(counting)  # type: ignore[arg-type]  # duck-typed: only call_soon_threadsafe
    buffer.put(_msg(0))

    def flood() -> None:
        for n in range(1, 1000):
            buffer.put(_msg(n))

    thread = _later(0.05, flood)
    started = time.monotonic()
    batch = await buffer.next_batch(1000, 10.0)
    thread.join()
    assert len(batch) == 1000
    assert time.monotonic() - started < 5
    assert counting.wakeups == 1


async def test_qos0_is_dropped_past_the_bound_and_qos1_never() -> None:
    """A full buffer drops and counts QoS 0 telemetry but keeps every QoS 1 message."""
    buffer = await _bound_buffer(max_items=2)
    assert buffer.put(_msg(1))
    assert buffer.put(_msg(2, qos=0))
    assert not buffer.put(_msg(3, qos=0))
    assert buffer.put(_msg(4))
    assert buffer.dropped_qos0 == 1
    assert [m.mid for m in await buffer.next_batch(10, 0)] == [1, 2, 4]


async def test_a_failure_reaches_the_waiting_and_later_callers() -> None:
    """fail() from the network thread makes the current and every later next_batch raise."""
    buffer = await _bound_buffer()
    thread = _later(0.05, lambda: buffer.fail(MqttError("re-subscription refused")))
    with pytest.raises(MqttError, match="refused"):
        await buffer.next_batch(10, 0)
    thread.join()
    buffer.put(_msg(1))
    with pytest.raises(MqttError, match="refused"):
        await buffer.next_batch(10, 0)


async def test_a_cancelled_wait_loses_nothing() -> None:
    """Cancelling next_batch (a shutdown) leaves later messages in the buffer for the next call."""
    buffer = await _bound_buffer()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await buffer.next_batch(10, 0)
    buffer.put(_msg(7))
    assert [m.mid for m in await buffer.next_batch(10, 0)] == [7]


def test_refuses_an_empty_bound() -> None:
    """A buffer or a batch of zero messages is a programming error."""
    with pytest.raises(ValueError, match="at least 1"):
        InboundBuffer(0)


def test_put_without_a_loop_or_with_a_closed_one_does_not_raise() -> None:
    """The network thread never dies because the asyncio side is gone."""
    buffer = InboundBuffer(10)
    assert buffer.put(_msg(1))
    loop = asyncio.new_event_loop()
    loop.close()
    buffer.bind(loop)
    buffer.fail(MqttError("late"))
    assert len(buffer) == 1
