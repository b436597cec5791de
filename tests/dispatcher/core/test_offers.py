"""The offer lifecycle table, pair by pair, against an expected table written out by hand."""

from __future__ import annotations

import itertools

import pytest

from dispatcher.core import NOT_ASKED_AGAIN, OFFER_TRANSITIONS, OfferMove, OfferStatus
from dispatcher.core.offers import move_offer

S, M = OfferStatus, OfferMove

# The specification: not derived from OFFER_TRANSITIONS.
EXPECTED: dict[tuple[OfferStatus, OfferMove], OfferStatus] = {
    (S.PENDING, M.ACCEPT): S.ACCEPTED,
    (S.PENDING, M.DECLINE): S.DECLINED,
    (S.PENDING, M.EXPIRE): S.EXPIRED,
    (S.PENDING, M.WITHDRAW): S.WITHDRAWN,
    (S.ACCEPTED, M.RELEASE): S.RELEASED,
}

PAIRS = list(itertools.product(OfferStatus, OfferMove))


def test_the_table_is_the_specification() -> None:
    """OFFER_TRANSITIONS allows exactly the expected moves."""
    assert dict(OFFER_TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("status", "move"), PAIRS, ids=[f"{s}-{m}" for s, m in PAIRS])
def test_every_pair_moves_or_is_refused(status: OfferStatus, move: OfferMove) -> None:
    """An allowed move gives the expected status; any other raises ValueError naming both."""
    if (status, move) in EXPECTED:
        assert move_offer(status, move) == EXPECTED[(status, move)]
    else:
        with pytest.raises(ValueError, match=f"{status.value} cannot {move.value}"):
            move_offer(status, move)


def test_only_a_pending_offer_is_answered() -> None:
    """Accept, decline, expire and withdraw apply to pending offers only: a second answer fails."""
    answered = {s for (s, m) in EXPECTED if m != M.RELEASE}
    assert answered == {S.PENDING}


@pytest.mark.parametrize(
    ("status", "asked_again"),
    [
        (S.PENDING, False),
        (S.ACCEPTED, False),
        (S.DECLINED, False),
        (S.EXPIRED, False),
        (S.RELEASED, False),
        (S.WITHDRAWN, True),
    ],
)
def test_only_a_withdrawn_helper_is_asked_again(status: OfferStatus, asked_again: bool) -> None:
    """A withdrawn offer was no fault of the helper's; every other ending keeps them off."""
    assert (status not in NOT_ASKED_AGAIN) is asked_again
