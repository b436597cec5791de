"""Who is free to send: the simulator's answer to the server's candidate query.

The server ranks free, on-duty helpers with a fresh position who are not in the incident's
``not_to_ask`` (``IncidentRepository.candidates``), claims the best one with a row lock and hands
the core that one. ``FreeHelpers`` keeps the same roster in a ``HelperGrid`` (whose ranking
equals ``rank`` over everyone) and hands the core the one helper the policy chooses among them;
under ``nearest`` that is the server's own pick.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dispatcher.core import IncidentState
from dispatcher.matching import HelperGrid, HelperPosition, MatchingPolicy, RankedHelper, rank
from simulator.policy import Policy, choose
from sla import Category

__all__ = ["FreeHelpers", "eta_of"]


def eta_of(
    position: HelperPosition, incident: IncidentState, now: datetime, matching: MatchingPolicy
) -> timedelta:
    """The helper's ETA to the incident from ``position``, as the server estimates it."""
    origin = incident.origin
    if origin is None:
        raise ValueError(f"incident {incident.id} has no position")
    (ranked,) = rank(origin, [position], now=now, deadline=incident.deadline, policy=matching)
    return ranked.eta


class FreeHelpers:
    """The free, on-duty helpers' positions, and the policy's choice among them."""

    def __init__(
        self,
        policy: Policy,
        matching: MatchingPolicy,
        *,
        latitude: float,
        emergency_window: timedelta,
        cell_size_m: float = 2_000.0,
    ) -> None:
        self.policy = policy
        self.matching = matching
        self.emergency_window = emergency_window
        # A few dozen helpers on duty per 100 km²: 2 km cells keep the rings few (the grid's
        # 500 m default suits 100 helpers per km²).
        self.grid = HelperGrid(cell_size_m, latitude=latitude)
        self.positions: dict[int, HelperPosition] = {}

    def __contains__(self, helper_id: object) -> bool:
        return helper_id in self.positions

    def add(self, position: HelperPosition) -> None:
        self.grid.upsert(position)
        self.positions[position.helper_id] = position

    def remove(self, helper_id: int) -> None:
        self.grid.remove(helper_id)
        self.positions.pop(helper_id, None)

    def candidates(self, incident: IncidentState, now: datetime) -> list[RankedHelper]:
        """The one helper to hand the core for ``incident``, or none (``World.candidates``)."""
        origin = incident.origin
        if origin is None or not self.positions:
            return []
        ranked = self.grid.nearest(
            origin,
            now=now,
            deadline=incident.deadline,
            policy=self.matching,
            exclude=incident.not_to_ask,
        )
        best = choose(
            self.policy,
            ranked,
            emergency=incident.category == Category.EMERGENCY,
            deadline=incident.deadline,
            backups=lambda helper_id: self._backups(helper_id, now),
        )
        return [best] if best is not None else []

    def _backups(self, helper_id: int, now: datetime) -> int:
        """How many other free helpers could reach this helper's spot within the emergency
        window (the coverage policy's test)."""
        where = self.positions[helper_id]
        near = self.grid.nearest(
            (where.lat, where.lon),
            now=now,
            deadline=now + self.emergency_window,
            policy=self.matching,
            exclude=(helper_id,),
            k=self.policy.backups_wanted,
        )
        return sum(r.can_make_deadline for r in near)
