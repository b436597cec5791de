"""Dispatch policies for fast mode: who gets the offer, and whether to re-offer on the way.

* ``nearest`` (the baseline, what the server does): the soonest-arriving free on-duty helper.
* ``coverage``: emergencies as ``nearest``. For general help, among the helpers who can make the
  30-minute deadline with ``margin`` in hand, send one whose neighbourhood keeps another free
  helper able to reach it within the emergency window ("backup"), soonest first; fall back to
  the soonest when nobody qualifies. The general call still arrives in time, and the next
  emergency nearby does not find its only close helper out shopping.
* ``reoffer``: ``nearest``, and when a helper comes free (finishes a case, starts a shift) and
  would reach an emergency still on its way ``reoffer_gain`` sooner than the helper travelling
  to it, the incident is withdrawn from that helper (REASSIGN) and offered to the nearer one.
* ``coverage+reoffer``: both.

Pure: ``choose`` sees the ranked candidates and a ``backups`` callback the engine answers from
its grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.matching import RankedHelper

__all__ = ["POLICIES", "Policy", "choose"]


@dataclass(frozen=True)
class Policy:
    name: str
    spare_coverage: bool = False
    reoffer: bool = False
    # Travel time scatters around the estimate (scenario travel_sigma): a helper chosen over the
    # soonest must have this much of the deadline left, or the choice gambles the promise.
    margin: timedelta = timedelta(minutes=5)
    # Re-offering costs an offer round and a helper's wasted trip: only for a clear gain.
    reoffer_gain: timedelta = timedelta(minutes=3)
    # How many free helpers, besides the one sent, make a neighbourhood "covered".
    backups_wanted: int = 1


POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy("nearest"),
        Policy("coverage", spare_coverage=True),
        Policy("reoffer", reoffer=True),
        Policy("coverage+reoffer", spare_coverage=True, reoffer=True),
    )
}


def choose(
    policy: Policy,
    ranked: Sequence[RankedHelper],
    *,
    emergency: bool,
    deadline: datetime,
    backups: Callable[[int], int],
) -> RankedHelper | None:
    """The helper to offer to, from ``ranked`` (soonest first); None when there is nobody."""
    if not ranked:
        return None
    if emergency or not policy.spare_coverage:
        return ranked[0]
    in_time = [r for r in ranked if r.arrives_at <= deadline - policy.margin]
    for candidate in in_time:
        # Checked soonest first, so the first covered candidate is also the quickest of them.
        if backups(candidate.helper_id) >= policy.backups_wanted:
            return candidate
    return ranked[0]
