"""The lane guard: outages told apart from a message's own faults, waited out or refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from dispatcher.lane_guard import AckOnce, DatabaseHealth, LaneGuard, describe
from dispatcher.store.database import is_outage


class PgError(Exception):
    """What asyncpg's errors carry, as SQLAlchemy's adapter exposes them: a SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(orig: BaseException, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError("INSERT ...", {}, orig, connection_invalidated=invalidated)


def sqlite_error(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code
    return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(104, "reset by peer"),
        TimeoutError(),
        wrapped(Exception("connection was closed in the middle of operation"), invalidated=True),
        wrapped(PgError("08006")),  # connection failure
        wrapped(PgError("57P01")),  # admin shutdown
        wrapped(PgError("57P03")),  # cannot connect now (starting up)
        wrapped(PgError("53300")),  # too many connections
        wrapped(PgError("53100")),  # disk full
        sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
        wrapped(sqlite_error("database is locked", 5)),
        wrapped(sqlite_error("disk I/O error", 10)),
        wrapped(sqlite_error("database or disk is full", 13)),
    ],
    ids=repr,
)
def test_outages_are_recognised(error: BaseException) -> None:
    """A database that is gone, starting, full or locked is an outage, however it is wrapped."""
    assert is_outage(error)
    with pytest.raises(RuntimeError) as outer:
        raise RuntimeError("while committing") from error
    assert is_outage(outer.value)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(PgError("22021")),  # character not in repertoire: a NUL in text
        wrapped(PgError("22001")),  # string data right truncation: too long for VARCHAR
        wrapped(PgError("22003")),  # numeric value out of range
        wrapped(PgError("23505")),  # unique violation
        wrapped(PgError("57014")),  # statement cancelled: may be the statement's own fault
        wrapped(sqlite_error("string or blob too big", 18)),
        OverflowError("date value out of range"),
        ValueError("Exceeds the limit (4300 digits) for integer string conversion"),
        RuntimeError("a bug"),
    ],
    ids=repr,
)
def test_a_bad_write_is_not_an_outage(error: BaseException) -> None:
    """Values the database refuses, and bugs, are the message's fault: it may be dead-lettered."""
    assert not is_outage(error)


class Sleeps:
    """A fake sleep that records each pause and runs a hook (to bring the database back)."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self.hook: Callable[[], None] = lambda: None

    async def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.hook()


def failing(times: int, error: Callable[[], Exception]) -> Callable[[], Awaitable[str]]:
    calls = 0

    async def work() -> str:
        nonlocal calls
        calls += 1
        if calls <= times:
            raise error()
        return f"done after {calls}"

    return work


async def test_an_outage_is_waited_out_with_growing_pauses_and_health_follows() -> None:
    """Refused connections are retried after 0.5 s, 1 s, 2 s … 5 s; not ok until a success."""
    sleeps = Sleeps()
    health = DatabaseHealth()
    guard = LaneGuard(health, sleep=sleeps, jitter=lambda: 1.0)
    seen_ok: list[bool] = []
    sleeps.hook = lambda: seen_ok.append(health.ok)
    result = await guard.ride_out("emergency", failing(6, lambda: ConnectionRefusedError(111)))
    assert result == "done after 7"
    assert seen_ok == [False] * 6 and health.ok and health.outages == 1
    assert sleeps.pauses == [0.5, 1, 2, 4, 5, 5]


async def test_a_message_fault_propagates_from_ride_out_untouched() -> None:
    """ride_out waits only for outages: a bad value is for the caller to deal with."""
    guard = LaneGuard(sleep=Sleeps())
    with pytest.raises(ValueError, match="bad"):
        await guard.ride_out("emergency", failing(1, lambda: ValueError("bad")))
    assert guard.health.ok


async def test_health_stays_not_ok_while_any_loop_still_waits() -> None:
    """One loop reaching the database does not hide another that is still stuck."""
    health = DatabaseHealth()
    health.lost("emergency")
    health.lost("timers")
    health.back("timers")
    assert not health.ok and health.waiting == ("emergency",)
    health.back("emergency")
    assert health.ok and health.outages == 1


async def test_a_message_failing_once_is_retried_and_not_refused() -> None:
    """The second try, in a fresh transaction, succeeds: nothing is refused."""
    guard = LaneGuard(sleep=Sleeps())
    refused: list[str] = []

    async def refuse(reason: str) -> None:
        refused.append(reason)

    handle = failing(1, lambda: ValueError("flaky"))

    async def run() -> None:
        await handle()

    assert await guard.one_message("emergency", run, refuse)
    assert refused == [] and guard.retried == 1 and guard.refused == 0


async def test_a_message_failing_twice_is_refused_with_the_reason() -> None:
    """Two failures of its own and the message is refused, the reason naming the error."""
    guard = LaneGuard(sleep=Sleeps())
    refused: list[str] = []

    async def refuse(reason: str) -> None:
        refused.append(reason)

    handle = failing(2, lambda: ValueError("value too long for type character varying(200)"))

    async def run() -> None:
        await handle()

    assert not await guard.one_message("emergency", run, refuse)
    (reason,) = refused
    assert "twice" in reason and "ValueError: value too long" in reason
    assert guard.refused == 1


async def test_outages_during_a_message_never_count_as_its_tries() -> None:
    """A message caught by an outage is not refused: it waits, then is handled."""
    sleeps = Sleeps()
    guard = LaneGuard(sleep=sleeps)
    refused: list[str] = []

    async def refuse(reason: str) -> None:
        refused.append(reason)

    handle = failing(5, lambda: wrapped(PgError("08006")))

    async def run() -> None:
        await handle()

    assert await guard.one_message("emergency", run, refuse)
    assert refused == [] and len(sleeps.pauses) == 5


async def test_a_refusal_that_cannot_be_written_is_waited_out_not_dropped() -> None:
    """If even the dead letter fails, for any reason, the lane waits: never an ack without it."""
    sleeps = Sleeps()
    health = DatabaseHealth()
    guard = LaneGuard(health, sleep=sleeps)
    dead_letter = failing(3, lambda: ValueError("odd"))
    during: list[bool] = []
    sleeps.hook = lambda: during.append(health.ok)

    async def handle() -> None:
        raise ValueError("poison")

    async def refuse(reason: str) -> None:
        await dead_letter()

    assert not await guard.one_message("telemetry", handle, refuse)
    assert during == [False] * 3 and health.ok


def test_ack_once_never_acknowledges_a_message_twice() -> None:
    """A retried handler that acks again does not send a second PUBACK for the same packet."""

    class Recorder:
        def __init__(self) -> None:
            self.acked: list[Any] = []

        def ack(self, msg: Any) -> None:
            self.acked.append(msg)

        def publish(
            self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
        ) -> None:
            return None

    broker = Recorder()
    once = AckOnce(broker)
    a, b = object(), object()
    for msg in (a, a, b, a):
        once.ack(msg)
    assert broker.acked == [a, b]


def test_describe_keeps_the_line_that_says_what_went_wrong() -> None:
    """SQLAlchemy's messages carry notes, the SQL and its parameters: the reason keeps the error."""
    error = ValueError("value too long\n[SQL: INSERT INTO devices ...]\n[parameters: ('x',)]")
    assert describe(error) == "ValueError: value too long"
    flushed = ValueError("(raised as a result of Query-invoked autoflush; ...)\n(Error) gone")
    assert describe(flushed) == "ValueError: (Error) gone"
