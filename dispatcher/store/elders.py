"""Elders' records: find, read, and save the profile an operator edited (contacts included).

Loading a whole district from CSV is ``store/registry.py``; the checks of what an operator typed
stay with the form (``web/console/elders.py``), which hands over a ``Profile`` of typed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from dispatcher.errors import NotFound
from dispatcher.store import Session
from dispatcher.store.models import Elder, EmergencyContact

__all__ = ["Contact", "Profile", "find_elders", "list_elders", "require_elder", "save_profile"]

Contact = tuple[str, str | None, str]  # name, relation, phone; in calling order


@dataclass(frozen=True)
class Profile:
    """An elder's editable fields, checked and typed."""

    name: str
    age: int | None
    phone: str | None
    address: str
    community: str | None
    home_lat: float
    home_lon: float
    medical_notes: str | None
    key_safe_note: str | None
    contacts: Sequence[Contact] = field(default_factory=tuple)


async def require_elder(s: Session, elder_id: int) -> Elder:
    elder = await s.get(Elder, elder_id)
    if elder is None:
        raise NotFound(f"elder {elder_id} does not exist")
    return elder


async def list_elders(s: Session, contains: str | None, limit: int) -> Sequence[Elder]:
    """Elders by id, or those whose name or address contains ``contains`` (the REST API)."""
    stmt = select(Elder).order_by(Elder.id).limit(limit)
    if contains:
        stmt = stmt.where(Elder.name.contains(contains) | Elder.address.contains(contains))
    return (await s.execute(stmt)).scalars().all()


async def find_elders(s: Session, text: str, limit: int) -> Sequence[Elder]:
    """Elders by community and name whose name, address, phone or reference holds ``text``."""
    stmt = select(Elder).order_by(Elder.community, Elder.name).limit(limit)
    if text:
        stmt = stmt.where(
            Elder.name.contains(text)
            | Elder.address.contains(text)
            | Elder.phone.contains(text)
            | Elder.external_ref.contains(text)
        )
    return (await s.execute(stmt)).scalars().all()


async def save_profile(s: Session, elder_id: int, profile: Profile) -> Elder:
    elder = await require_elder(s, elder_id)
    elder.name, elder.address = profile.name, profile.address
    elder.age = profile.age
    elder.phone, elder.community = profile.phone, profile.community
    elder.home_lat, elder.home_lon = profile.home_lat, profile.home_lon
    elder.medical_notes, elder.key_safe_note = profile.medical_notes, profile.key_safe_note
    elder.contacts.clear()
    await s.flush()  # old rows go first: (elder_id, priority) is unique
    elder.contacts.extend(
        EmergencyContact(priority=n, name=name, relation=relation, phone=phone)
        for n, (name, relation, phone) in enumerate(profile.contacts, start=1)
    )
    return elder
