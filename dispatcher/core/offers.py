"""The offer lifecycle: one table, like ``sla.lifecycle`` for incidents.

```
            accept                      (assigned helper taken off by an operator)
 PENDING ──────────▶ ACCEPTED ───────────────────────────────────────▶ RELEASED
    │ decline ─────▶ DECLINED
    │ expire  ─────▶ EXPIRED
    └ withdraw ────▶ WITHDRAWN   (an operator assigned someone else, or the case closed)
```

A helper who declined, let an offer expire or was released is not asked again for the same
incident; a withdrawn offer was no fault of the helper's, so they may be asked again.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = ["NOT_ASKED_AGAIN", "OFFER_TRANSITIONS", "OfferMove", "OfferStatus", "move_offer"]


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    RELEASED = "released"


class OfferMove(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    EXPIRE = "expire"
    WITHDRAW = "withdraw"
    RELEASE = "release"


_P, _M = OfferStatus, OfferMove

OFFER_TRANSITIONS: Mapping[tuple[OfferStatus, OfferMove], OfferStatus] = MappingProxyType(
    {
        (_P.PENDING, _M.ACCEPT): _P.ACCEPTED,
        (_P.PENDING, _M.DECLINE): _P.DECLINED,
        (_P.PENDING, _M.EXPIRE): _P.EXPIRED,
        (_P.PENDING, _M.WITHDRAW): _P.WITHDRAWN,
        (_P.ACCEPTED, _M.RELEASE): _P.RELEASED,
    }
)

NOT_ASKED_AGAIN: frozenset[OfferStatus] = frozenset(OfferStatus) - {OfferStatus.WITHDRAWN}
"""Statuses after which the matcher skips that helper for the same incident."""


def move_offer(status: OfferStatus, move: OfferMove) -> OfferStatus:
    """The offer's next status; ``ValueError`` for a move the table does not allow."""
    try:
        return OFFER_TRANSITIONS[(status, move)]
    except KeyError:
        raise ValueError(f"an offer that is {status.value} cannot {move.value}") from None
