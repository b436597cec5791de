"""Columns a device's message reaches are sized from the contract's limits, and migrated so."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, String, Table, Text

import dispatcher.store.users  # noqa: F401 - registers the console tables on the metadata
from device_protocol.limits import MAX_ALARM_CODE_LENGTH, MAX_ALARMS, MAX_ID_LENGTH
from dispatcher.store.database import Database
from dispatcher.store.models import (
    Base,
    DeadLetter,
    Device,
    Incident,
    ReceivedMessage,
    TelemetryEvent,
)

DEVICE_ID_LENGTH = 64  # DEVICE_ID_PATTERN: 1-64 of A-Z a-z 0-9 _ -
UNBOUNDED = None


def column(model: Any, name: str) -> Column[Any]:
    table: Table = model.__table__
    return table.c[name]


@pytest.mark.parametrize(
    ("col", "needed"),
    [
        (column(ReceivedMessage, "msg_id"), MAX_ID_LENGTH),
        (column(TelemetryEvent, "msg_id"), MAX_ID_LENGTH),
        (column(ReceivedMessage, "device_id"), DEVICE_ID_LENGTH),
        (column(TelemetryEvent, "device_id"), DEVICE_ID_LENGTH),
        (column(Device, "device_id"), DEVICE_ID_LENGTH),
        (column(Incident, "device_id"), DEVICE_ID_LENGTH),
        (column(DeadLetter, "device_id"), DEVICE_ID_LENGTH),
        # comma-joined codes: 16 of 64 characters and 15 commas in the contract
        (column(Device, "last_alarms"), MAX_ALARMS * (MAX_ALARM_CODE_LENGTH + 1) - 1),
        (column(DeadLetter, "topic"), UNBOUNDED),  # one "+" level matches any length
        (column(DeadLetter, "reason"), UNBOUNDED),
        (column(TelemetryEvent, "payload"), UNBOUNDED),
    ],
    ids=lambda v: str(v),
)
def test_a_column_a_device_field_reaches_holds_the_contracts_largest_value(
    col: Column[Any], needed: int | None
) -> None:
    """No legal message can fail its transaction for a value too long for its column."""
    if needed is UNBOUNDED:
        assert isinstance(col.type, Text)
    elif isinstance(col.type, String) and not isinstance(col.type, Text):
        assert col.type.length is not None and col.type.length >= needed
    else:
        assert isinstance(col.type, Text)


async def test_the_migrations_build_exactly_the_models_schema(database: Database) -> None:
    """Alembic finds nothing to change after the migrations: models and revisions agree."""

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []
