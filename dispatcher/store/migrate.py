"""Schema migrations (Alembic), run programmatically so no alembic.ini has to be found on disk.

On SQLite most changes to a table copy it (Alembic's batch mode): the old table is dropped, which
fails while other tables' rows refer to it and foreign keys are enforced. So a migration runs
with enforcement off, as SQLite's own procedure for altering tables says, and the foreign keys
are checked before it commits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from dispatcher.store.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; idempotent."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        if db.is_sqlite:
            broken = connection.execute(text("PRAGMA foreign_key_check")).all()
            if broken:
                raise RuntimeError(f"migration to {revision} broke foreign keys: {broken[:5]}")

    async with db.engine.connect() as connection:
        if not db.is_sqlite:
            async with connection.begin():
                await connection.run_sync(run)
            return
        # Outside any transaction: SQLite ignores this pragma inside one.
        await connection.run_sync(_sqlite_foreign_keys, False)
        try:
            async with connection.begin():
                await connection.run_sync(run)
        finally:
            await connection.run_sync(_sqlite_foreign_keys, True)


async def revision(db: Database, message: str) -> None:
    """Autogenerate a migration from the models (a developer's tool)."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # On the driver's connection: a statement through SQLAlchemy would begin a transaction first.
    dbapi: Any = connection.connection.dbapi_connection
    cursor = dbapi.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()
