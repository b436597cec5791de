"""Engine and sessions: SQLite (aiosqlite) as the embedded default, PostgreSQL (asyncpg) for real.

The one place that knows the dialects apart: row locks that only PostgreSQL has, SQLite pragmas.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Select, event
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
            if schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
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
