"""Elders, devices and helpers in and out: CSV import (idempotent, keyed by reference) and lookups.

CSV formats (UTF-8, header row; see README "Loading a district"):
- elders:  ref,name,age,gender,phone,address,community,lat,lon,medical_notes,key_safe_note,contacts
           where contacts is ``name|relation|phone`` entries separated by ``;``, in calling order
- devices: device_id,elder_ref,model,report_interval_s
- helpers: ref,name,phone,role,skills,travel_mode,on_duty,lat,lon
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from device_protocol import Kind as TopicKind
from device_protocol import TopicError, parse_topic, topic_for
from dispatcher.errors import InvalidInput
from dispatcher.matching import TravelMode
from dispatcher.store.models import Device, Elder, EmergencyContact, Helper

DEVICE_MODELS = ("handset", "wristband")
HELPER_ROLES = ("social_worker", "volunteer", "community_staff", "supervisor")


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int


def _rows(text: str, required: Iterable[str]) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = set(required) - set(reader.fieldnames or [])
    if missing:
        raise InvalidInput(f"CSV header lacks column(s): {', '.join(sorted(missing))}")
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def _float(row: Mapping[str, str], key: str, line: int, lo: float, hi: float) -> float:
    try:
        value = float(row[key])
    except ValueError as exc:
        raise InvalidInput(f"line {line}: {key} {row[key]!r} is not a number") from exc
    if not lo <= value <= hi:
        raise InvalidInput(f"line {line}: {key} {value} is outside {lo}..{hi}")
    return value


def _valid_device_id(device_id: str, line: int) -> str:
    try:
        parse_topic(topic_for(device_id, TopicKind.SOS))
    except TopicError as exc:
        raise InvalidInput(f"line {line}: device_id {device_id!r}: {exc.reason}") from exc
    return device_id


async def import_elders(s: AsyncSession, text: str, now: datetime) -> ImportReport:
    rows = _rows(text, ("ref", "name", "address", "lat", "lon"))
    existing = {e.external_ref: e for e in (await s.execute(select(Elder))).scalars()}
    created = updated = 0
    for line, row in enumerate(rows, start=2):
        lat = _float(row, "lat", line, -90, 90)
        lon = _float(row, "lon", line, -180, 180)
        elder = existing.get(row["ref"])
        if elder is None:
            elder = Elder(
                external_ref=row["ref"],
                created_at=now,
                name="",
                address="",
                home_lat=lat,
                home_lon=lon,
            )
            s.add(elder)
            created += 1
        else:
            updated += 1
        elder.name, elder.address = row["name"], row["address"]
        elder.age = int(row["age"]) if row.get("age") else None
        elder.gender = row.get("gender") or None
        elder.phone = row.get("phone") or None
        elder.community = row.get("community") or None
        elder.home_lat, elder.home_lon = lat, lon
        elder.medical_notes = row.get("medical_notes") or None
        elder.key_safe_note = row.get("key_safe_note") or None
        contacts = []
        for priority, entry in enumerate(filter(None, row.get("contacts", "").split(";")), 1):
            parts = [p.strip() for p in entry.split("|")]
            if len(parts) != 3 or not parts[2]:
                raise InvalidInput(f"line {line}: contact {entry!r} is not name|relation|phone")
            contacts.append(
                EmergencyContact(
                    priority=priority, name=parts[0], relation=parts[1] or None, phone=parts[2]
                )
            )
        elder.contacts = contacts
    await s.flush()
    return ImportReport(created, updated)


async def import_devices(s: AsyncSession, text: str) -> ImportReport:
    rows = _rows(text, ("device_id", "elder_ref", "model"))
    elders = dict((await s.execute(select(Elder.external_ref, Elder.id))).all())
    created = updated = 0
    for line, row in enumerate(rows, start=2):
        device_id = _valid_device_id(row["device_id"], line)
        if row["model"] not in DEVICE_MODELS:
            raise InvalidInput(f"line {line}: model must be one of {', '.join(DEVICE_MODELS)}")
        elder_id = elders.get(row["elder_ref"]) if row["elder_ref"] else None
        if row["elder_ref"] and elder_id is None:
            raise InvalidInput(f"line {line}: no elder with ref {row['elder_ref']!r}")
        device = await s.get(Device, device_id)
        if device is None:
            device = Device(device_id=device_id, online=False)
            s.add(device)
            created += 1
        else:
            updated += 1
        device.elder_id, device.model = elder_id, row["model"]
        device.report_interval_s = int(row.get("report_interval_s") or 300)
    await s.flush()
    return ImportReport(created, updated)


async def import_helpers(s: AsyncSession, text: str, now: datetime) -> ImportReport:
    rows = _rows(text, ("ref", "name", "phone", "travel_mode"))
    existing = {h.external_ref: h for h in (await s.execute(select(Helper))).scalars()}
    modes = [m.value for m in TravelMode]
    created = updated = 0
    for line, row in enumerate(rows, start=2):
        if row["travel_mode"] not in modes:
            raise InvalidInput(f"line {line}: travel_mode must be one of {', '.join(modes)}")
        role = row.get("role") or "volunteer"
        if role not in HELPER_ROLES:
            raise InvalidInput(f"line {line}: role must be one of {', '.join(HELPER_ROLES)}")
        helper = existing.get(row["ref"])
        if helper is None:
            helper = Helper(external_ref=row["ref"], name="", phone="", travel_mode="walk")
            s.add(helper)
            created += 1
        else:
            updated += 1
        helper.name, helper.phone, helper.role = row["name"], row["phone"], role
        helper.skills, helper.travel_mode = row.get("skills", ""), row["travel_mode"]
        helper.on_duty = row.get("on_duty", "").lower() in ("1", "true", "yes", "y")
        if row.get("lat") and row.get("lon"):
            helper.lat = _float(row, "lat", line, -90, 90)
            helper.lon = _float(row, "lon", line, -180, 180)
            helper.located_at = now
    await s.flush()
    return ImportReport(created, updated)
