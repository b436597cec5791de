"""The pure dispatch core: incident + offers + timers as data, events in, effects out.

::

    ingest / helpers / operators / timers
            │  events (events.py)
            ▼
    decide(incident, event, now, config, candidates) ──▶ Decision(incident', effects)
            │                                                    │
            │  sla.transition (incident table)                   ▼
            │  move_offer (offers.py table)        applier (server, one transaction)
            │  NOTICES (notices.py matrix)         or the simulator (fast mode)

No I/O, no clock, no SQLAlchemy: ``needs_candidates`` tells the shell when to rank helpers.
"""

from dispatcher.core.decide import FALSE_ALARM_OUTCOME, decide, needs_candidates, open_incident
from dispatcher.core.effects import (
    NEW_OFFER,
    ArmTimer,
    CreateOffer,
    Effect,
    MoveOffer,
    Notify,
    Record,
    ReleaseHelper,
    ReserveHelper,
)
from dispatcher.core.events import (
    SYSTEM,
    Accept,
    Arrive,
    AssignByHand,
    Decline,
    DeviceAlarm,
    DeviceCancel,
    Dispatch,
    Escalate,
    EscalateByHand,
    Event,
    FalseAlarm,
    HelperMoved,
    NewIncident,
    OfferExpired,
    Reassess,
    RepeatPress,
    Resolve,
    Withdraw,
)
from dispatcher.core.notices import NOTICES, Moment, Purpose, Recipient
from dispatcher.core.offers import NOT_ASKED_AGAIN, OFFER_TRANSITIONS, OfferMove, OfferStatus
from dispatcher.core.reports import DeviceReport, ReportKind, route
from dispatcher.core.state import CoreConfig, Decision, IncidentState, OfferView
from dispatcher.core.timer_kinds import TIMER_EVENTS, TimerKind, event_for_timer

__all__ = [
    "FALSE_ALARM_OUTCOME",
    "NEW_OFFER",
    "NOTICES",
    "NOT_ASKED_AGAIN",
    "OFFER_TRANSITIONS",
    "SYSTEM",
    "TIMER_EVENTS",
    "Accept",
    "ArmTimer",
    "Arrive",
    "AssignByHand",
    "CoreConfig",
    "CreateOffer",
    "Decision",
    "Decline",
    "DeviceAlarm",
    "DeviceCancel",
    "DeviceReport",
    "Dispatch",
    "Effect",
    "Escalate",
    "EscalateByHand",
    "Event",
    "FalseAlarm",
    "HelperMoved",
    "IncidentState",
    "Moment",
    "MoveOffer",
    "NewIncident",
    "Notify",
    "OfferExpired",
    "OfferMove",
    "OfferStatus",
    "OfferView",
    "Purpose",
    "Reassess",
    "Recipient",
    "Record",
    "ReleaseHelper",
    "RepeatPress",
    "ReportKind",
    "ReserveHelper",
    "Resolve",
    "TimerKind",
    "Withdraw",
    "decide",
    "event_for_timer",
    "needs_candidates",
    "open_incident",
    "route",
]
