"""Helpers on the roster: who there is, who is on duty and free, what each took on today.

Who may be *offered* an incident is not answered here: that is the candidate query in
``IncidentRepository.candidates``, which dispatch and the console share.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select

from dispatcher.core import OfferStatus
from dispatcher.errors import NotFound
from dispatcher.store import Session
from dispatcher.store.models import Helper, Offer

__all__ = [
    "TOOK_ON",
    "all_helpers",
    "free_helpers",
    "helpers_by_id",
    "on_duty_first",
    "require_helper",
    "set_on_duty",
    "taken_on_since",
]

TOOK_ON = (OfferStatus.ACCEPTED.value, OfferStatus.RELEASED.value)
"""Offer statuses that mean the helper took the incident on (accepted, or assigned by hand)."""


async def all_helpers(s: Session) -> Sequence[Helper]:
    """Every helper, by id."""
    return (await s.execute(select(Helper).order_by(Helper.id))).scalars().all()


async def on_duty_first(s: Session) -> Sequence[Helper]:
    """Every helper, those on duty first, then by name (the console's helpers page)."""
    stmt = select(Helper).order_by(Helper.on_duty.desc(), Helper.name)
    return (await s.execute(stmt)).scalars().all()


async def free_helpers(s: Session) -> Sequence[Helper]:
    """Helpers on duty and on no incident, by name: whom an operator may assign by hand."""
    stmt = (
        select(Helper)
        .where(Helper.on_duty.is_(True), Helper.active_incident_id.is_(None))
        .order_by(Helper.name)
    )
    return (await s.execute(stmt)).scalars().all()


async def helpers_by_id(s: Session, ids: Iterable[int]) -> dict[int, Helper]:
    wanted = set(ids)
    if not wanted:
        return {}
    found = await s.execute(select(Helper).where(Helper.id.in_(wanted)))
    return {h.id: h for h in found.scalars()}


async def require_helper(s: Session, helper_id: int) -> Helper:
    helper = await s.get(Helper, helper_id)
    if helper is None:
        raise NotFound(f"helper {helper_id} does not exist")
    return helper


async def set_on_duty(s: Session, helper_id: int, on_duty: bool) -> Helper:
    """On or off duty; only helpers on duty are offered incidents."""
    helper = await require_helper(s, helper_id)
    helper.on_duty = on_duty
    return helper


async def taken_on_since(s: Session, since: datetime) -> dict[int, int]:
    """How many incidents each helper took on (accepted, or assigned by hand) since ``since``."""
    counted = await s.execute(
        select(Offer.helper_id, func.count(func.distinct(Offer.incident_id)))
        .where(Offer.offered_at >= since, Offer.status.in_(TOOK_ON))
        .group_by(Offer.helper_id)
    )
    return {helper_id: n for helper_id, n in counted}
