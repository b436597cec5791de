"""Alembic environment: runs on the connection that ``dispatcher.store.migrate`` hands it."""

from __future__ import annotations

from alembic import context

from dispatcher.store.models import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
