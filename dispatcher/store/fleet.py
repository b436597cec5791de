"""The devices as operators see them: the lists (which ones need a call), an incident's device,
and the dead letters (device messages that could not be used).

What ingest writes about devices is ``store/devices.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from dispatcher.store import Session
from dispatcher.store.models import DeadLetter, Device, Elder

__all__ = ["all_devices", "device_of", "devices_with_elders", "recent_dead_letters"]


async def all_devices(s: Session, limit: int) -> Sequence[Device]:
    """Devices, offline ones first (they need a call), then by id."""
    stmt = select(Device).order_by(Device.online, Device.device_id).limit(limit)
    return (await s.execute(stmt)).scalars().all()


async def devices_with_elders(s: Session, limit: int) -> list[tuple[Device, str | None]]:
    """Devices with their elder's name: offline first, then the longest silent (to phone)."""
    rows = await s.execute(
        select(Device, Elder.name)
        .outerjoin(Elder, Elder.id == Device.elder_id)
        .order_by(Device.online, Device.last_seen_at.is_not(None), Device.last_seen_at)
        .limit(limit)
    )
    return [(d, name) for d, name in rows]


async def device_of(s: Session, device_id: str | None, elder_id: int | None) -> Device | None:
    """The device an incident came from, or else the elder's first one."""
    if device_id is not None:
        return await s.get(Device, device_id)
    if elder_id is None:
        return None
    stmt = select(Device).where(Device.elder_id == elder_id).limit(1)
    return (await s.execute(stmt)).scalar_one_or_none()


async def recent_dead_letters(s: Session, limit: int) -> Sequence[DeadLetter]:
    """Device messages that could not be used, newest first."""
    stmt = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    return (await s.execute(stmt)).scalars().all()
