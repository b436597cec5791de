"""Drive the pure core through an incident's life, as the applier would, without a database.

``Run`` keeps the incident between decisions: it gives the incident an id once opened and each
new offer a real id (the core names it ``NEW_OFFER`` until written), which is all the store does
that the next decision depends on. Candidates are built relative to the run's clock and deadline.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from dispatcher.core import (
    NEW_OFFER,
    CoreConfig,
    Decision,
    Effect,
    Event,
    IncidentState,
    NewIncident,
    Notify,
    Purpose,
    Recipient,
    Record,
    decide,
    open_incident,
)
from dispatcher.matching import RankedHelper
from sla import Category

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")
CONFIG = CoreConfig(display_tz=SHANGHAI)
ELDER = 7
DEVICE = "860000000000001"
H1, H2, H3 = 1, 2, 3
OPERATOR = "operator:wang"

E = TypeVar("E", bound=Effect)


def new_incident(**overrides: Any) -> NewIncident:
    """A press from a registered elder's watch with a fix, dispatched in the same decision."""
    fields: dict[str, Any] = {
        "category": Category.EMERGENCY,
        "kind": "sos",
        "summary": "SOS button pressed",
        "elder_id": ELDER,
        "device_id": DEVICE,
        "lat": 23.37,
        "lon": 116.70,
        "actor": f"device:{DEVICE}",
        "defer_dispatch": False,
    }
    fields.update(overrides)
    return NewIncident(**fields)


@dataclass
class Run:
    """One incident, its clock and every decision taken on it so far."""

    incident: IncidentState
    now: datetime
    config: CoreConfig = CONFIG
    decisions: list[Decision] = field(default_factory=list)
    next_offer_id: int = 100

    @classmethod
    def open(
        cls,
        *helpers: tuple[int, float],
        at: datetime = T0,
        config: CoreConfig = CONFIG,
        **overrides: Any,
    ) -> Run:
        """Open an incident; ``helpers`` are (helper id, minutes away), best first."""
        new = new_incident(**overrides)
        deadline = config.sla.deadline(new.category, at)
        decision = open_incident(new, at, config, ranked(at, deadline, helpers))
        run = cls(decision.incident, at, config)
        run._keep(dataclasses.replace(decision.incident, id=1), decision)
        return run

    def on(
        self, event: Event, *helpers: tuple[int, float], after: timedelta = timedelta(0)
    ) -> Decision:
        """Decide ``event`` ``after`` the previous one; ``helpers`` as for ``open``."""
        self.now += after
        candidates = ranked(self.now, self.incident.deadline, helpers)
        decision = decide(self.incident, event, self.now, self.config, candidates)
        self._keep(decision.incident, decision)
        return decision

    def at(self, moment: datetime) -> Run:
        """Move the clock to ``moment`` (for a timer due then)."""
        self.now = moment
        return self

    def _keep(self, incident: IncidentState, decision: Decision) -> None:
        offers = []
        for offer in incident.offers:
            if offer.id == NEW_OFFER:
                offer = dataclasses.replace(offer, id=self.next_offer_id)
                self.next_offer_id += 1
            offers.append(offer)
        self.incident = dataclasses.replace(incident, offers=tuple(offers))
        self.decisions.append(decision)

    @property
    def last(self) -> Decision:
        return self.decisions[-1]

    def offer_id(self, helper_id: int) -> int:
        """The id of the helper's latest offer."""
        return [o.id for o in self.incident.offers if o.helper_id == helper_id][-1]

    def status_of(self, helper_id: int) -> str:
        """The status of the helper's latest offer."""
        return [o.status.value for o in self.incident.offers if o.helper_id == helper_id][-1]


def ranked(
    now: datetime, deadline: datetime, helpers: Iterable[tuple[int, float]]
) -> list[RankedHelper]:
    """Candidates as the shell ranks them: ``(helper id, minutes away)``, best first."""
    out = []
    for helper_id, minutes in helpers:
        eta = timedelta(minutes=minutes)
        out.append(
            RankedHelper(
                helper_id,
                distance_m=minutes * 250.0,
                eta=eta,
                arrives_at=now + eta,
                can_make_deadline=now + eta <= deadline,
                deadline=deadline,
            )
        )
    return out


def of_type(decision: Decision, kind: type[E]) -> list[E]:
    """The decision's effects of one type, in order."""
    return [e for e in decision.effects if isinstance(e, kind)]


def notices(decision: Decision) -> list[tuple[Recipient, Purpose, int | None]]:
    """Who is told what: (recipient, purpose, helper concerned) per Notify, in order."""
    return [(n.recipient, n.purpose, n.helper_id) for n in of_type(decision, Notify)]


def actions(decision: Decision) -> list[str]:
    """The timeline actions the decision records, in order."""
    return [r.action for r in of_type(decision, Record)]


def record(decision: Decision, action: str) -> Record:
    """The decision's one Record of ``action``."""
    found = [r for r in of_type(decision, Record) if r.action == action]
    assert len(found) == 1, f"{action}: {actions(decision)}"
    return found[0]
