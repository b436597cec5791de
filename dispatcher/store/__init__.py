"""The store: SQLAlchemy models, the engine and sessions, repositories, Alembic migrations.

The only package that imports SQLAlchemy (an import-linter contract). ``Session`` is the
transaction handle the rest of the server passes around without touching what is inside it: it
hands it to the repositories and read models here (``incidents``, ``read_models``, ``roster``,
``elders``, ``devices``, ``fleet``, ``registry``, ``outbox``, ``timers``, ``retention``,
``users``), which build every query.
"""

from sqlalchemy.ext.asyncio import AsyncSession as Session

from dispatcher.store.database import Database
from dispatcher.store.migrate import upgrade

__all__ = ["Database", "Session", "upgrade"]
