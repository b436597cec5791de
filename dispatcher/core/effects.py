"""What the core decides should happen, as data; the applier (or the simulator) carries it out.

The incident's own new fields travel as the decision's ``incident`` snapshot; everything else is
one of these effects, applied in order in one transaction. ``NEW_OFFER`` as a reference means
"the offer this decision creates" (its id exists only once written).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

from dispatcher.core.notices import Moment, Purpose, Recipient
from dispatcher.core.offers import OfferMove
from dispatcher.core.timer_kinds import TimerKind

__all__ = [
    "NEW_OFFER",
    "ArmTimer",
    "CreateOffer",
    "Effect",
    "MoveOffer",
    "Notify",
    "Record",
    "ReleaseHelper",
    "ReserveHelper",
]

NEW_OFFER = -1


@dataclass(frozen=True)
class CreateOffer:
    """Offer the incident to ``helper_id``; the helper is reserved while it is pending."""

    helper_id: int
    expires_at: datetime
    eta_s: int
    distance_m: float
    manual: bool = False  # an operator's hand assignment, recorded as an accepted offer


@dataclass(frozen=True)
class MoveOffer:
    offer_id: int
    move: OfferMove


@dataclass(frozen=True)
class ReserveHelper:
    helper_id: int


@dataclass(frozen=True)
class ReleaseHelper:
    """Free the helper, if they are still held by this incident."""

    helper_id: int


@dataclass(frozen=True)
class ArmTimer:
    kind: TimerKind
    due_at: datetime
    ref: int | None = None


@dataclass(frozen=True)
class Record:
    """A timeline line: an action code and its parameters (rendered in the reader's language)."""

    actor: str
    action: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notify:
    """Tell ``recipient`` (for ``HELPER``: the helper in ``helper_id``) about ``moment``."""

    moment: Moment
    recipient: Recipient
    purpose: Purpose
    helper_id: int | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


Effect: TypeAlias = (
    CreateOffer | MoveOffer | ReserveHelper | ReleaseHelper | ArmTimer | Record | Notify
)
