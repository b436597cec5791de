"""Status columns hold exactly their enum's values: the migrated database refuses anything else."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from dispatcher.core import OfferStatus
from dispatcher.store.database import Database
from dispatcher.store.models import Incident, Offer, OutboxMessage, OutboxStatus
from sla import Category, SlaStatus, State
from tests.dispatcher.district import T0, load

COLUMNS = [
    (Incident, "state", State),
    (Incident, "sla_status", SlaStatus),
    (Incident, "category", Category),
    (Offer, "status", OfferStatus),
    (OutboxMessage, "status", OutboxStatus),
]


async def _one_of_each(db: Database) -> None:
    """An incident with an offer and an outbox message, all valid."""
    district = await load(db)
    async with db.session() as s:
        incident = Incident(
            category=Category.EMERGENCY.value,
            kind="sos",
            summary="SOS",
            state=State.OFFERED.value,
            created_at=T0,
            deadline=T0,
            updated_at=T0,
        )
        s.add(incident)
        await s.flush()
        s.add(
            Offer(
                incident_id=incident.id,
                helper_id=district.h1,
                offered_at=T0,
                expires_at=T0,
                status=OfferStatus.PENDING.value,
                distance_m=300.0,
                eta_s=240,
                accept_code="001234",
            )
        )
        s.add(
            OutboxMessage(
                incident_id=incident.id,
                channel="sms",
                purpose="family_received",
                recipient="+8613900000001",
                body="收到",
                next_attempt_at=T0,
                created_at=T0,
            )
        )


@pytest.mark.parametrize(
    ("model", "column", "values"), COLUMNS, ids=lambda v: getattr(v, "__name__", str(v))
)
async def test_a_status_column_takes_every_value_of_its_enum_and_nothing_else(
    database: Database, model: Any, column: str, values: type[StrEnum]
) -> None:
    """Each value of the enum is stored; a value outside it is refused by a CHECK constraint."""
    await _one_of_each(database)
    for value in values:
        async with database.session() as s:
            await s.execute(update(model).values({column: value.value}))
    with pytest.raises(IntegrityError, match=f"ck_{model.__tablename__}_{column}"):
        async with database.session() as s:
            await s.execute(update(model).values({column: "bogus"}))
