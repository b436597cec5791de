"""Who is told what, at each moment of an incident: the notification matrix as data.

Every message a person receives must be true when it is sent, and everyone a change affects is
told. The core names the *moment*; this table names the recipients and the purpose of each
message; the notifier's texts turn a purpose and its facts into words (Chinese first, local time,
one or two SMS segments). ``tests/dispatcher/core/test_notices.py`` walks every moment.

| moment           | device         | helper concerned        | family            | supervisor |
|------------------|----------------|-------------------------|-------------------|------------|
| received         | (ack's prompt) |                         | received          |            |
| offered          |                | offer                   |                   |            |
| offer_expired    |                | offer expired           |                   |            |
| offer_withdrawn  |                | offer withdrawn         |                   |            |
| accepted         | on the way     |                         | on the way, phone |            |
| assigned_by_hand | on the way     | assigned by hand        | on the way, phone |            |
| helper_withdrawn | helper changed | stood down (reassign)   | helper changed    |            |
| arrived          | helper arrived |                         | arrived           |            |
| resolved         |                | closed (unless by them) | closed, outcome   |            |
| false_alarm      | cancelled      | stood down (false)      | false alarm       |            |
| escalated        |                |                         |                   | escalation |
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = ["NOTICES", "Moment", "Purpose", "Recipient"]


class Recipient(StrEnum):
    DEVICE = "device"
    """The elder's device: a short prompt it shows or reads aloud."""
    HELPER = "helper"
    """The helper the moment concerns (its id is in the facts)."""
    FAMILY = "family"
    """Every emergency contact of the elder."""
    SUPERVISORS = "supervisors"
    """The configured supervisor phones."""


class Moment(StrEnum):
    RECEIVED = "received"
    OFFERED = "offered"
    OFFER_EXPIRED = "offer_expired"
    OFFER_WITHDRAWN = "offer_withdrawn"
    ACCEPTED = "accepted"
    ASSIGNED_BY_HAND = "assigned_by_hand"
    HELPER_WITHDRAWN = "helper_withdrawn"
    ARRIVED = "arrived"
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"
    ESCALATED = "escalated"


class Purpose(StrEnum):
    """What a message is for; one text template each (``dispatcher.notifier.texts``)."""

    HELPER_OFFER = "helper_offer"
    HELPER_OFFER_EXPIRED = "helper_offer_expired"
    HELPER_OFFER_WITHDRAWN = "helper_offer_withdrawn"
    HELPER_ASSIGNED = "helper_assigned"
    HELPER_STOOD_DOWN = "helper_stood_down"
    HELPER_CLOSED = "helper_closed"
    FAMILY_RECEIVED = "family_received"
    FAMILY_ON_THE_WAY = "family_on_the_way"
    FAMILY_HELPER_CHANGED = "family_helper_changed"
    FAMILY_ARRIVED = "family_arrived"
    FAMILY_CLOSED = "family_closed"
    FAMILY_FALSE_ALARM = "family_false_alarm"
    DEVICE_ON_THE_WAY = "device_on_the_way"
    DEVICE_ARRIVED = "device_arrived"
    DEVICE_HELPER_CHANGED = "device_helper_changed"
    DEVICE_CANCELLED = "device_cancelled"
    ESCALATION = "escalation"


_R, _P, _M = Recipient, Purpose, Moment

NOTICES: Mapping[Moment, tuple[tuple[Recipient, Purpose], ...]] = MappingProxyType(
    {
        _M.RECEIVED: ((_R.FAMILY, _P.FAMILY_RECEIVED),),
        _M.OFFERED: ((_R.HELPER, _P.HELPER_OFFER),),
        _M.OFFER_EXPIRED: ((_R.HELPER, _P.HELPER_OFFER_EXPIRED),),
        _M.OFFER_WITHDRAWN: ((_R.HELPER, _P.HELPER_OFFER_WITHDRAWN),),
        _M.ACCEPTED: (
            (_R.DEVICE, _P.DEVICE_ON_THE_WAY),
            (_R.FAMILY, _P.FAMILY_ON_THE_WAY),
        ),
        _M.ASSIGNED_BY_HAND: (
            (_R.HELPER, _P.HELPER_ASSIGNED),
            (_R.DEVICE, _P.DEVICE_ON_THE_WAY),
            (_R.FAMILY, _P.FAMILY_ON_THE_WAY),
        ),
        _M.HELPER_WITHDRAWN: (
            (_R.HELPER, _P.HELPER_STOOD_DOWN),
            (_R.DEVICE, _P.DEVICE_HELPER_CHANGED),
            (_R.FAMILY, _P.FAMILY_HELPER_CHANGED),
        ),
        _M.ARRIVED: (
            (_R.DEVICE, _P.DEVICE_ARRIVED),
            (_R.FAMILY, _P.FAMILY_ARRIVED),
        ),
        _M.RESOLVED: (
            (_R.HELPER, _P.HELPER_CLOSED),
            (_R.FAMILY, _P.FAMILY_CLOSED),
        ),
        _M.FALSE_ALARM: (
            (_R.HELPER, _P.HELPER_STOOD_DOWN),
            (_R.DEVICE, _P.DEVICE_CANCELLED),
            (_R.FAMILY, _P.FAMILY_FALSE_ALARM),
        ),
        _M.ESCALATED: ((_R.SUPERVISORS, _P.ESCALATION),),
    }
)
