"""Engine and sessions: SQLite (aiosqlite) as the embedded default, PostgreSQL (asyncpg) for real.

The one place that knows the dialects apart: row locks that only PostgreSQL has, SQLite pragmas,
and which of their errors mean "the database is unreachable" rather than "this write is bad"
(``is_outage``: the lanes pause on the first and dead-letter the message on the second).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Select, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

T = TypeVar("T", bound=Any)


class Database:
    """Owns the engine; ``session()`` opens a unit of work that commits or rolls back."""

    def __init__(self, url: str, *, schema: str | None = None, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
            # A database host that went silent (no RST) must fail a connect in seconds, not
            # asyncpg's default minute: the lanes pause and /readyz says so meanwhile.
            connect_args: dict[str, Any] = {"timeout": CONNECT_TIMEOUT_S}
            if schema:
                connect_args["server_settings"] = {"search_path": schema}
            kwargs["connect_args"] = connect_args
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin_immediate)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time and its busy handler sleeps up to 100 ms between
        # retries: queue writers here instead, with emergencies first (DESIGN.md §3, two lanes).
        self._gate = WriterGate() if self.is_sqlite else None
        # Reads need neither the write lock nor the queue: WAL gives each a consistent snapshot.
        self._reads = self.sessions
        # (An in-memory database is private to its engine, so it keeps one.)
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            read_engine = create_async_engine(self.url, **kwargs)
            event.listen(read_engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(read_engine.sync_engine, "begin", _sqlite_begin_deferred)
            self._read_engine: AsyncEngine | None = read_engine
            self._reads = async_sessionmaker(read_engine, expire_on_commit=False)
        else:
            self._read_engine = None

    @asynccontextmanager
    async def session(self, *, priority: bool = False) -> AsyncIterator[AsyncSession]:
        """A transaction; ``priority`` (emergencies) jumps the queue of waiting SQLite writers."""
        if self._gate is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        await self._gate.acquire(priority)
        try:
            async with self.sessions() as session, session.begin():
                yield session
        finally:
            self._gate.release()

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction: on SQLite it never waits behind (or blocks) a writer."""
        async with self._reads() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """One round trip to the database; raises what a lost connection raises."""
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    def lock_rows(self, stmt: Select[T]) -> Select[T]:
        """Claim rows so no other server process takes them (SQLite has one writer anyway)."""
        if self.is_sqlite:
            return stmt
        return stmt.with_for_update(skip_locked=True)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._read_engine is not None:
            await self._read_engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.dispose()


CONNECT_TIMEOUT_S = 10

# PostgreSQL SQLSTATE classes that say nothing about the statement and everything about the
# server: 08 connection exception, 53 insufficient resources (disk full, out of memory, too many
# connections), 57P operator intervention (shutdown, cannot connect now), 58 system error (I/O).
# Not 57014 (statement cancelled by a timeout): that one can be the statement's own fault.
_PG_OUTAGE_PREFIXES = ("08", "53", "57P", "58")
# SQLite primary result codes of the same kind: busy/locked past busy_timeout, out of memory,
# read-only file, I/O error, corrupt, full disk, cannot open, lock protocol, not a database.
_SQLITE_OUTAGE_CODES = frozenset({5, 6, 7, 8, 10, 11, 13, 14, 15, 26})
_SQLITE_OUTAGE_TEXT = ("database is locked", "disk i/o error", "unable to open database file")


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the database is unreachable or unwell, not that this write was bad.

    An outage is retried until it passes (nothing is acknowledged meanwhile); anything else is
    the message's own fault. Walks the whole chain (SQLAlchemy wraps the driver's error, which
    wraps the socket's), and leans towards "outage": pausing a lane is visible and loses nothing,
    while dead-lettering good messages during an outage would.
    """
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError):  # refused, reset, unreachable; TimeoutError is one too
            return True
        if isinstance(e, sa_exc.TimeoutError):  # the pool: every connection is stuck
            return True
        if isinstance(e, sa_exc.DBAPIError):
            if e.connection_invalidated:
                return True
            if e.orig is not None:
                todo.append(e.orig)
        sqlstate = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_PG_OUTAGE_PREFIXES):
            return True
        if isinstance(e, sqlite3.Error):
            code = getattr(e, "sqlite_errorcode", None)
            if isinstance(code, int) and (code & 0xFF) in _SQLITE_OUTAGE_CODES:
                return True
            if str(e).lower().startswith(_SQLITE_OUTAGE_TEXT):
                return True
        if type(e).__module__.startswith("asyncpg") and "connection is closed" in str(e):
            return True  # asyncpg's client-side InterfaceError for a connection already gone
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)
    return False


class WriterGate:
    """One transaction at a time in this process, priority waiters first."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    async def acquire(self, priority: bool) -> None:
        if not self._busy:
            self._busy = True
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[priority].append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        for queue in (self._waiting[True], self._waiting[False]):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # ownership passes straight to the waiter
                    return
        self._busy = False


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while ingest writes; busy_timeout makes writers queue, not fail.
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_deferred(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def _sqlite_begin_immediate(conn: Any) -> None:
    # A deferred transaction that reads and then writes fails with SQLITE_BUSY at once when
    # another writer holds the lock; taking the write lock up front makes it wait its turn.
    conn.exec_driver_sql("BEGIN IMMEDIATE")
