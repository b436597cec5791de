"""The store: SQLAlchemy models, the engine and sessions, Alembic migrations."""

from dispatcher.store.database import Database
from dispatcher.store.migrate import upgrade

__all__ = ["Database", "upgrade"]
