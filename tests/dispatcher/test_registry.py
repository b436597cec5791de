"""Importing the district's spreadsheets: idempotent, and contacts follow the latest file."""

from __future__ import annotations

from sqlalchemy import select

from dispatcher.registry import import_elders
from dispatcher.store.database import Database
from dispatcher.store.models import EmergencyContact
from tests.dispatcher.district import ELDERS, HEADER, T0, load


async def _contacts(db: Database) -> list[tuple[int, str, str]]:
    async with db.read_session() as s:
        rows = await s.execute(
            select(
                EmergencyContact.priority, EmergencyContact.name, EmergencyContact.phone
            ).order_by(EmergencyContact.elder_id, EmergencyContact.priority)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_importing_the_same_elders_twice_changes_nothing(database: Database) -> None:
    """A second import of the same file (load-demo run twice) succeeds and keeps the contacts."""
    await load(database)
    before = await _contacts(database)
    async with database.session() as s:
        report = await import_elders(s, ELDERS, T0)
    assert report.created == 0 and report.updated == 2
    assert await _contacts(database) == before


async def test_contacts_are_replaced_by_the_new_file(database: Database) -> None:
    """Re-ordered, changed and dropped contacts all land as the new file says."""
    await load(database)
    changed = f"{HEADER}\nE1,陈秀英,82,女,,地址,社区,23.37,116.70,,,林惠芳|女儿|+8613900000009\n"
    async with database.session() as s:
        await import_elders(s, changed, T0)
    assert await _contacts(database) == [(1, "林惠芳", "+8613900000009")]
