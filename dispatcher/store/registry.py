"""The registry's writes: elders, devices and helpers from a checked import, keyed by reference.

``dispatcher/registry.py`` reads and checks a CSV file into the rows below (all of it, before
anything is written); this module inserts what is new and updates what exists, so importing
the same file twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from dispatcher.store import Session
from dispatcher.store.elders import Contact
from dispatcher.store.models import Device, Elder, EmergencyContact, Helper

__all__ = [
    "DeviceRow",
    "ElderRow",
    "HelperRow",
    "ImportReport",
    "elder_ids_by_ref",
    "upsert_devices",
    "upsert_elders",
    "upsert_helpers",
]


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int


@dataclass(frozen=True)
class ElderRow:
    ref: str
    name: str
    age: int | None
    gender: str | None
    phone: str | None
    address: str
    community: str | None
    lat: float
    lon: float
    medical_notes: str | None
    key_safe_note: str | None
    contacts: tuple[Contact, ...]


@dataclass(frozen=True)
class DeviceRow:
    device_id: str
    elder_id: int | None
    model: str
    report_interval_s: int


@dataclass(frozen=True)
class HelperRow:
    ref: str
    name: str
    phone: str
    role: str
    skills: str
    travel_mode: str
    on_duty: bool
    position: tuple[float, float] | None  # (lat, lon) when the file gives one


async def elder_ids_by_ref(s: Session) -> dict[str, int]:
    return dict((await s.execute(select(Elder.external_ref, Elder.id))).all())


async def upsert_elders(s: Session, rows: Sequence[ElderRow], now: datetime) -> ImportReport:
    existing = {e.external_ref: e for e in (await s.execute(select(Elder))).scalars()}
    created = updated = 0
    for row in rows:
        elder = existing.get(row.ref)
        if elder is None:
            elder = Elder(
                external_ref=row.ref,
                created_at=now,
                name="",
                address="",
                home_lat=row.lat,
                home_lon=row.lon,
            )
            s.add(elder)
            created += 1
        else:
            updated += 1
        elder.name, elder.address = row.name, row.address
        elder.age = row.age
        elder.gender = row.gender
        elder.phone = row.phone
        elder.community = row.community
        elder.home_lat, elder.home_lon = row.lat, row.lon
        elder.medical_notes = row.medical_notes
        elder.key_safe_note = row.key_safe_note
        _replace_contacts(elder, row.contacts)
    await s.flush()
    return ImportReport(created, updated)


def _replace_contacts(elder: Elder, contacts: Sequence[Contact]) -> None:
    """Update the elder's contacts in place, by priority.

    Replacing the collection would insert the new rows before deleting the old ones, and
    (elder_id, priority) is unique: a second import of the same file failed on it.
    """
    current = {c.priority: c for c in elder.contacts} if elder.id is not None else {}
    kept = []
    for priority, (name, relation, phone) in enumerate(contacts, 1):
        contact = current.get(priority) or EmergencyContact(priority=priority)
        contact.name, contact.relation, contact.phone = name, relation, phone
        kept.append(contact)
    elder.contacts = kept


async def upsert_devices(s: Session, rows: Sequence[DeviceRow]) -> ImportReport:
    created = updated = 0
    for row in rows:
        device = await s.get(Device, row.device_id)
        if device is None:
            device = Device(device_id=row.device_id, online=False)
            s.add(device)
            created += 1
        else:
            updated += 1
        device.elder_id, device.model = row.elder_id, row.model
        device.report_interval_s = row.report_interval_s
    await s.flush()
    return ImportReport(created, updated)


async def upsert_helpers(s: Session, rows: Sequence[HelperRow], now: datetime) -> ImportReport:
    existing = {h.external_ref: h for h in (await s.execute(select(Helper))).scalars()}
    created = updated = 0
    for row in rows:
        helper = existing.get(row.ref)
        if helper is None:
            helper = Helper(external_ref=row.ref, name="", phone="", travel_mode="walk")
            s.add(helper)
            created += 1
        else:
            updated += 1
        helper.name, helper.phone, helper.role = row.name, row.phone, row.role
        helper.skills, helper.travel_mode = row.skills, row.travel_mode
        helper.on_duty = row.on_duty
        if row.position is not None:
            helper.lat, helper.lon = row.position
            helper.located_at = now
    await s.flush()
    return ImportReport(created, updated)
