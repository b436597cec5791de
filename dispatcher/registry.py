"""Elders, devices and helpers in and out: CSV import (idempotent, keyed by reference) and lookups.

CSV formats (UTF-8, header row; see README "Loading a district"):
- elders:  ref,name,age,gender,phone,address,community,lat,lon,medical_notes,key_safe_note,contacts
           where contacts is ``name|relation|phone`` entries separated by ``;``, in calling order
- devices: device_id,elder_ref,model,report_interval_s
- helpers: ref,name,phone,role,skills,travel_mode,on_duty,lat,lon

A file is taken whole or not at all: the first bad row raises ``InvalidInput`` with its line and
column (a word for a number, text longer than its column, a control character, a ref repeated in
the file), so nothing is half-imported and no row reaches the database to fail there.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession

from device_protocol import Kind as TopicKind
from device_protocol import TopicError, parse_topic, topic_for
from dispatcher.errors import InvalidInput
from dispatcher.matching import TravelMode
from dispatcher.store.models import Base, Device, Elder, EmergencyContact, Helper

DEVICE_MODELS = ("handset", "wristband")
HELPER_ROLES = ("social_worker", "volunteer", "community_staff", "supervisor")
MAX_AGE = 130  # the console's elder form says the same
MAX_REPORT_INTERVAL_S = 7 * 24 * 3600  # a week, as the device contract bounds a heartbeat's
# One-line cells refuse every control character (PostgreSQL refuses NUL in text); the free-text
# notes keep tab and line breaks (a quoted CSV cell may span lines).
_LINE_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
FREE_TEXT = frozenset({"medical_notes", "key_safe_note"})


def column_width(model: type[Base], column: str) -> int | None:
    """The length of a String column as store/models.py declares it (None: unbounded text)."""
    column_type = model.__table__.c[column].type
    return column_type.length if isinstance(column_type, String) else None


# CSV column -> the table column it lands in (its width bounds the cell).
ELDER_COLUMNS = {
    "ref": "external_ref",
    "name": "name",
    "gender": "gender",
    "phone": "phone",
    "address": "address",
    "community": "community",
    "medical_notes": "medical_notes",
    "key_safe_note": "key_safe_note",
}
CONTACT_PARTS = ("name", "relation", "phone")
HELPER_COLUMNS = {"ref": "external_ref", "name": "name", "phone": "phone", "skills": "skills"}


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int


def _bad(line: int, key: str, why: str) -> InvalidInput:
    return InvalidInput(f"line {line}: {key} {why}", line=line, field=key)


def _quote(value: str, limit: int = 40) -> str:
    """A cell as an error message quotes it: shortened, so a huge cell makes no huge answer."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _rows(text: str, required: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    """The rows with the line each starts on (a quoted cell may span lines)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    rows = []
    try:
        missing = set(required) - set(reader.fieldnames or [])
        if missing:
            raise InvalidInput(f"CSV header lacks column(s): {', '.join(sorted(missing))}")
        for name in reader.fieldnames or []:
            if _LINE_REFUSED.search(name):
                raise InvalidInput("CSV header: a column name holds a control character", line=1)
        for row in reader:
            # line_num is where the row ends; a quoted cell may have spanned lines before it.
            breaks = sum(v.count("\n") for v in row.values() if isinstance(v, str))
            rows.append(
                (reader.line_num - breaks, {k: (v or "").strip() for k, v in row.items() if k})
            )
    except csv.Error as exc:  # e.g. a cell past the csv module's field size limit
        line = reader.line_num
        raise InvalidInput(f"line {line}: not readable as CSV ({exc})", line=line) from exc
    for line, row in rows:
        for key, value in row.items():
            refused = _TEXT_REFUSED if key in FREE_TEXT else _LINE_REFUSED
            found = refused.search(value)
            if found:
                code = ord(found.group())
                raise _bad(line, key, f"holds a control character (U+{code:04X})")
    return rows


def _fits(row: Mapping[str, str], line: int, model: type[Base], columns: Mapping[str, str]) -> None:
    """Every cell fits the column it is stored in."""
    for key, column in columns.items():
        width = column_width(model, column)
        if width is not None and len(row.get(key, "")) > width:
            raise _bad(line, key, f"is longer than {width} characters")


def _float(row: Mapping[str, str], key: str, line: int, lo: float, hi: float) -> float:
    try:
        value = float(row[key])
    except ValueError as exc:
        raise _bad(line, key, f"{_quote(row[key])} is not a number") from exc
    if not lo <= value <= hi:
        raise _bad(line, key, f"{value} is outside {lo}..{hi}")
    return value


def _int(row: Mapping[str, str], key: str, line: int, lo: int, hi: int) -> int:
    try:
        value = int(row[key])
    except ValueError as exc:
        raise _bad(line, key, f"{_quote(row[key])} is not a whole number") from exc
    if not lo <= value <= hi:
        raise _bad(line, key, f"{value} is outside {lo}..{hi}")
    return value


def _once(seen: dict[str, int], key: str, value: str, line: int) -> None:
    """A file names each record once: a second row with its key would be a second insert."""
    first = seen.setdefault(value, line)
    if first != line:
        raise _bad(line, key, f"{value!r} repeats line {first}")


def _valid_device_id(device_id: str, line: int) -> str:
    try:
        parse_topic(topic_for(device_id, TopicKind.SOS))
    except TopicError as exc:
        raise _bad(line, "device_id", f"{_quote(device_id)}: {exc.reason}") from exc
    return device_id


async def import_elders(s: AsyncSession, text: str, now: datetime) -> ImportReport:
    rows = _rows(text, ("ref", "name", "address", "lat", "lon"))
    existing = {e.external_ref: e for e in (await s.execute(select(Elder))).scalars()}
    seen: dict[str, int] = {}
    created = updated = 0
    for line, row in rows:
        _fits(row, line, Elder, ELDER_COLUMNS)
        _once(seen, "ref", row["ref"], line)
        age = _int(row, "age", line, 0, MAX_AGE) if row.get("age") else None
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
        elder.age = age
        elder.gender = row.get("gender") or None
        elder.phone = row.get("phone") or None
        elder.community = row.get("community") or None
        elder.home_lat, elder.home_lon = lat, lon
        elder.medical_notes = row.get("medical_notes") or None
        elder.key_safe_note = row.get("key_safe_note") or None
        contacts: list[tuple[str, str | None, str]] = []
        for entry in filter(None, row.get("contacts", "").split(";")):
            parts = [p.strip() for p in entry.split("|")]
            if len(parts) != 3 or not parts[2]:
                raise _bad(line, "contacts", f"{_quote(entry)} is not name|relation|phone")
            for part, value in zip(CONTACT_PARTS, parts, strict=True):
                width = column_width(EmergencyContact, part)
                if width is not None and len(value) > width:
                    raise _bad(line, "contacts", f"{part} is longer than {width} characters")
            contacts.append((parts[0], parts[1] or None, parts[2]))
        _replace_contacts(elder, contacts)
    await s.flush()
    return ImportReport(created, updated)


def _replace_contacts(elder: Elder, contacts: list[tuple[str, str | None, str]]) -> None:
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


async def import_devices(s: AsyncSession, text: str) -> ImportReport:
    rows = _rows(text, ("device_id", "elder_ref", "model"))
    elders = dict((await s.execute(select(Elder.external_ref, Elder.id))).all())
    seen: dict[str, int] = {}
    created = updated = 0
    for line, row in rows:
        device_id = _valid_device_id(row["device_id"], line)
        _once(seen, "device_id", device_id, line)
        if row["model"] not in DEVICE_MODELS:
            raise _bad(line, "model", f"must be one of {', '.join(DEVICE_MODELS)}")
        elder_id = elders.get(row["elder_ref"]) if row["elder_ref"] else None
        if row["elder_ref"] and elder_id is None:
            raise _bad(line, "elder_ref", f"{_quote(row['elder_ref'])} names no elder")
        interval = 300
        if row.get("report_interval_s"):
            interval = _int(row, "report_interval_s", line, 1, MAX_REPORT_INTERVAL_S)
        device = await s.get(Device, device_id)
        if device is None:
            device = Device(device_id=device_id, online=False)
            s.add(device)
            created += 1
        else:
            updated += 1
        device.elder_id, device.model = elder_id, row["model"]
        device.report_interval_s = interval
    await s.flush()
    return ImportReport(created, updated)


async def import_helpers(s: AsyncSession, text: str, now: datetime) -> ImportReport:
    rows = _rows(text, ("ref", "name", "phone", "travel_mode"))
    existing = {h.external_ref: h for h in (await s.execute(select(Helper))).scalars()}
    modes = [m.value for m in TravelMode]
    seen: dict[str, int] = {}
    created = updated = 0
    for line, row in rows:
        _fits(row, line, Helper, HELPER_COLUMNS)
        _once(seen, "ref", row["ref"], line)
        if row["travel_mode"] not in modes:
            raise _bad(line, "travel_mode", f"must be one of {', '.join(modes)}")
        role = row.get("role") or "volunteer"
        if role not in HELPER_ROLES:
            raise _bad(line, "role", f"must be one of {', '.join(HELPER_ROLES)}")
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
