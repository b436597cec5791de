"""The simulator's applier: the server's dispatch core, its decisions carried out in memory.

The server changes an incident one way only (``dispatcher.workflow``): load the incident's state,
rank helpers if ``needs_candidates`` says the core may offer, ``decide``, and apply the decision's
effects in one transaction; its timer loop turns each due timer row into ``event_for_timer`` and
the same steps. ``MemoryApplier`` is that loop with dicts and a heap instead of a database, fed by
the simulator's clock. The rules (states, offers, expiries, retries, SLA, escalation, who is told
what) are all ``dispatcher.core``'s; nothing here decides anything.

| effect        | the server's applier                    | here                                 |
|---------------|-----------------------------------------|--------------------------------------|
| CreateOffer   | an offer row with an accept code        | the next offer id; the world is told |
|               |                                         | (it draws the helper's answer)       |
| MoveOffer     | the offer row's status                  | carried by the incident snapshot     |
| ReserveHelper | ``helpers.active_incident_id``          | ``held``; the world takes the helper |
|               |                                         | off its free grid                    |
| ReleaseHelper | cleared if this incident still holds it | the same; the world frees the helper |
| ArmTimer      | a timer row (``NEW_OFFER``: the offer)  | pushed on the timer heap; when due,  |
|               |                                         | ``event_for_timer``, ``decide``      |
| Notify        | outbox rows, worded by the notifier     | counted per purpose (a device prompt |
|               |                                         | only if there is a device)           |
| Record        | a timeline row                          | counted per action                   |

The world hears of reservations, offers and releases only once the decision is stored, so a
world that reacts to a freed helper by deciding on another incident sees every incident as the
core left it.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from dispatcher.core import (
    NEW_OFFER,
    ArmTimer,
    CoreConfig,
    CreateOffer,
    Decision,
    DeviceReport,
    Event,
    IncidentState,
    MoveOffer,
    NewIncident,
    Notify,
    OfferStatus,
    OfferView,
    Purpose,
    Recipient,
    Record,
    ReleaseHelper,
    ReserveHelper,
    TimerKind,
    decide,
    event_for_timer,
    needs_candidates,
    open_incident,
    route,
)
from dispatcher.errors import Conflict
from dispatcher.matching import RankedHelper
from sla import is_terminal

__all__ = ["MemoryApplier", "World"]


class World(Protocol):
    """What the applier needs from the simulated world (the server asks its database)."""

    def candidates(self, incident: IncidentState, now: datetime) -> Sequence[RankedHelper]:
        """The helper to offer to, as the server's claimed candidate query returns it: the one
        best free helper the core may ask (not in ``incident.not_to_ask``), or none."""
        ...

    def reserved(self, helper_id: int, incident_id: int, now: datetime) -> None: ...

    def offered(self, incident: IncidentState, offer: OfferView, now: datetime) -> None: ...

    def released(self, helper_id: int, incident_id: int, now: datetime) -> None: ...


class MemoryApplier:
    """Incidents, offers, helper holds and timers in memory; the core decides every change."""

    def __init__(
        self,
        config: CoreConfig,
        world: World,
        observe: Callable[[Decision], None] | None = None,
    ) -> None:
        self.config = config
        self.world = world
        self.observe = observe
        self.incidents: dict[int, IncidentState] = {}
        self.held: dict[int, int] = {}  # helper id -> the incident holding them
        self.notices: Counter[Purpose] = Counter()
        self.actions: Counter[str] = Counter()
        self.timers_fired = 0
        self.timers_moot = 0  # refused by the core (Conflict), as the server's loop logs them
        self._timers: list[tuple[datetime, int, int, TimerKind, int | None]] = []
        # The latest device incident per elder (or unregistered device), for find_open.
        self._open_device: dict[tuple[str, int | str | None], int] = {}
        self._seq = 0
        self._next_incident = 1
        self._next_offer = 1

    @property
    def next_incident_id(self) -> int:
        """The id the next ``open`` will give (the server's would come from its database)."""
        return self._next_incident

    # ---- the server's entry points ----------------------------------------------------------

    def open(self, new: NewIncident, now: datetime) -> IncidentState:
        """Open an incident (``Workflow.open_incident``): ranked first if it is matched at once."""
        candidates: Sequence[RankedHelper] = ()
        if needs_candidates(None, new):
            probe = open_incident(new, now, self.config)  # the new incident's facts, to rank
            candidates = self.world.candidates(probe.incident, now)
        return self._apply(None, open_incident(new, now, self.config, candidates), now)

    def device_report(self, report: DeviceReport, now: datetime) -> IncidentState | None:
        """What a device said (``Workflow.device_report``): the core routes it to the open
        incident of the elder (or of the unregistered device), or opens one; the incident it
        concerns, None when there is none."""
        existing = self.find_open(elder_id=report.elder_id, device_id=report.device_id)
        state = self.incidents[existing] if existing is not None else None
        action = route(state, report)
        if action is None:
            return state
        if isinstance(action, NewIncident):
            return self.open(action, now)
        assert existing is not None  # route() answers an event only for an open incident
        return self.on(existing, action, now)

    def find_open(self, *, elder_id: int | None, device_id: str | None) -> int | None:
        """The open device incident of the elder (or of an unregistered device), as
        ``IncidentRepository.find_open``; operators' requests are not joined."""
        incident_id = self._open_device.get(_caller(elder_id, device_id))
        if incident_id is None or is_terminal(self.incidents[incident_id].state):
            return None
        return incident_id

    def on(
        self,
        incident_id: int,
        event: Event,
        now: datetime,
        candidates: Sequence[RankedHelper] | None = None,
    ) -> IncidentState:
        """Decide ``event`` on the incident and apply it (``Workflow._run``); ``Conflict`` if the
        core refuses it. ``candidates`` overrides the world's choice (an operator's pick)."""
        state = self.incidents[incident_id]
        if candidates is None:
            needed = needs_candidates(state, event)
            candidates = self.world.candidates(state, now) if needed else ()
        return self._apply(incident_id, decide(state, event, now, self.config, candidates), now)

    def next_due(self) -> datetime | None:
        """When the earliest armed timer is due; None when none is armed."""
        return self._timers[0][0] if self._timers else None

    def fire_next(self, now: datetime) -> None:
        """Fire the earliest timer at ``now`` (``Workflow.fire``); a moot one changes nothing."""
        _, _, incident_id, kind, ref = heapq.heappop(self._timers)
        self.timers_fired += 1
        try:
            self.on(incident_id, event_for_timer(kind, ref), now)
        except Conflict:  # e.g. an expiry racing an answer: the answer won
            self.timers_moot += 1

    # ---- carrying out a decision -------------------------------------------------------------

    def _apply(self, incident_id: int | None, decision: Decision, now: datetime) -> IncidentState:
        if self.observe is not None:
            self.observe(decision)
        if incident_id is None:
            incident_id = self._next_incident
            self._next_incident += 1
        new_offer: int | None = None
        reserved: list[int] = []
        released: list[int] = []
        for effect in decision.effects:
            if isinstance(effect, CreateOffer):
                new_offer = self._next_offer
                self._next_offer += 1
            elif isinstance(effect, ReserveHelper):
                self.held[effect.helper_id] = incident_id
                reserved.append(effect.helper_id)
            elif isinstance(effect, ReleaseHelper):
                if self.held.get(effect.helper_id) == incident_id:
                    del self.held[effect.helper_id]
                    released.append(effect.helper_id)
            elif isinstance(effect, ArmTimer):
                ref = new_offer if effect.ref == NEW_OFFER else effect.ref
                if effect.ref == NEW_OFFER and new_offer is None:
                    raise RuntimeError("a timer refers to the new offer before one was created")
                self._seq += 1
                entry = (effect.due_at, self._seq, incident_id, effect.kind, ref)
                heapq.heappush(self._timers, entry)
            elif isinstance(effect, Notify):
                # As the server's applier: a device prompt needs a device to show it on.
                if effect.recipient != Recipient.DEVICE or decision.incident.device_id:
                    self.notices[effect.purpose] += 1
            elif isinstance(effect, Record):
                self.actions[effect.action] += 1
            elif isinstance(effect, MoveOffer):
                pass  # the snapshot below carries the offer's new status
        state = decision.incident
        offers = state.offers
        if new_offer is not None:
            offers = tuple(
                dataclasses.replace(o, id=new_offer) if o.id == NEW_OFFER else o for o in offers
            )
        if state.id != incident_id or offers is not state.offers:
            # (Skipped otherwise: a retry with nobody free is most of an overloaded run.)
            state = dataclasses.replace(state, id=incident_id, offers=offers)
        if decision.incident.id == 0 and state.kind != "request":
            self._open_device[_caller(state.elder_id, state.device_id)] = incident_id
        self.incidents[incident_id] = state
        for helper_id in reserved:
            self.world.reserved(helper_id, incident_id, now)
        for offer in offers:
            if offer.id == new_offer and offer.status == OfferStatus.PENDING:
                self.world.offered(state, offer, now)
        for helper_id in released:
            self.world.released(helper_id, incident_id, now)
        return state


def _caller(elder_id: int | None, device_id: str | None) -> tuple[str, int | str | None]:
    return ("elder", elder_id) if elder_id is not None else ("device", device_id)
