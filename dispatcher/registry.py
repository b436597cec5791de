"""Elders, devices and helpers from CSV: read and checked here, written by ``store/registry.py``.

Imports are idempotent (rows are keyed by reference).

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
from datetime import datetime

from device_protocol import Kind as TopicKind
from device_protocol import TopicError, parse_topic, topic_for
from dispatcher.errors import InvalidInput
from dispatcher.matching import TravelMode
from dispatcher.store import Session
from dispatcher.store.elders import Contact
from dispatcher.store.models import Base, Elder, EmergencyContact, Helper, column_width
from dispatcher.store.registry import (
    DeviceRow,
    ElderRow,
    HelperRow,
    ImportReport,
    elder_ids_by_ref,
    upsert_devices,
    upsert_elders,
    upsert_helpers,
)

__all__ = [
    "DEVICE_MODELS",
    "HELPER_ROLES",
    "ImportReport",
    "column_width",
    "import_devices",
    "import_elders",
    "import_helpers",
]

DEVICE_MODELS = ("handset", "wristband")
HELPER_ROLES = ("social_worker", "volunteer", "community_staff", "supervisor")
MAX_AGE = 130  # the console's elder form says the same
MAX_REPORT_INTERVAL_S = 7 * 24 * 3600  # a week, as the device contract bounds a heartbeat's
# One-line cells refuse every control character (PostgreSQL refuses NUL in text); the free-text
# notes keep tab and line breaks (a quoted CSV cell may span lines).
_LINE_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
FREE_TEXT = frozenset({"medical_notes", "key_safe_note"})


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


async def import_elders(s: Session, text: str, now: datetime) -> ImportReport:
    rows = _rows(text, ("ref", "name", "address", "lat", "lon"))
    seen: dict[str, int] = {}
    elders = []
    for line, row in rows:
        _fits(row, line, Elder, ELDER_COLUMNS)
        _once(seen, "ref", row["ref"], line)
        age = _int(row, "age", line, 0, MAX_AGE) if row.get("age") else None
        lat = _float(row, "lat", line, -90, 90)
        lon = _float(row, "lon", line, -180, 180)
        contacts: list[Contact] = []
        for entry in filter(None, row.get("contacts", "").split(";")):
            parts = [p.strip() for p in entry.split("|")]
            if len(parts) != 3 or not parts[2]:
                raise _bad(line, "contacts", f"{_quote(entry)} is not name|relation|phone")
            for part, value in zip(CONTACT_PARTS, parts, strict=True):
                width = column_width(EmergencyContact, part)
                if width is not None and len(value) > width:
                    raise _bad(line, "contacts", f"{part} is longer than {width} characters")
            contacts.append((parts[0], parts[1] or None, parts[2]))
        elders.append(
            ElderRow(
                ref=row["ref"],
                name=row["name"],
                age=age,
                gender=row.get("gender") or None,
                phone=row.get("phone") or None,
                address=row["address"],
                community=row.get("community") or None,
                lat=lat,
                lon=lon,
                medical_notes=row.get("medical_notes") or None,
                key_safe_note=row.get("key_safe_note") or None,
                contacts=tuple(contacts),
            )
        )
    return await upsert_elders(s, elders, now)


async def import_devices(s: Session, text: str) -> ImportReport:
    rows = _rows(text, ("device_id", "elder_ref", "model"))
    elders = await elder_ids_by_ref(s)
    seen: dict[str, int] = {}
    devices = []
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
        devices.append(DeviceRow(device_id, elder_id, row["model"], interval))
    return await upsert_devices(s, devices)


async def import_helpers(s: Session, text: str, now: datetime) -> ImportReport:
    rows = _rows(text, ("ref", "name", "phone", "travel_mode"))
    modes = [m.value for m in TravelMode]
    seen: dict[str, int] = {}
    helpers = []
    for line, row in rows:
        _fits(row, line, Helper, HELPER_COLUMNS)
        _once(seen, "ref", row["ref"], line)
        if row["travel_mode"] not in modes:
            raise _bad(line, "travel_mode", f"must be one of {', '.join(modes)}")
        role = row.get("role") or "volunteer"
        if role not in HELPER_ROLES:
            raise _bad(line, "role", f"must be one of {', '.join(HELPER_ROLES)}")
        position = None
        if row.get("lat") and row.get("lon"):
            position = (_float(row, "lat", line, -90, 90), _float(row, "lon", line, -180, 180))
        helpers.append(
            HelperRow(
                ref=row["ref"],
                name=row["name"],
                phone=row["phone"],
                role=role,
                skills=row.get("skills", ""),
                travel_mode=row["travel_mode"],
                on_duty=row.get("on_duty", "").lower() in ("1", "true", "yes", "y"),
                position=position,
            )
        )
    return await upsert_helpers(s, helpers, now)
