"""The store: SQLAlchemy models, the engine and sessions, repositories, Alembic migrations.

The only package that imports SQLAlchemy. ``Session`` is the transaction handle the rest of the
server passes around without touching what is inside it.
"""

from sqlalchemy.ext.asyncio import AsyncSession as Session

from dispatcher.store.database import Database
from dispatcher.store.migrate import upgrade

__all__ = ["Database", "Session", "upgrade"]
