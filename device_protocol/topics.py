"""MQTT topics of protocol v1: one subtree per device, so a broker can apply per-device ACLs.

A topic is ``hyt/v1/d/{device_id}/{kind}``; ``kind`` says both what the payload is and which
ingest lane it travels on. Emergency events get a lane of their own so a telemetry flood can
never queue in front of an SOS.
"""

from __future__ import annotations

import re
from enum import StrEnum

from device_protocol.errors import TopicError, short_repr

__all__ = [
    "DEVICE_ID_PATTERN",
    "INBOUND_KINDS",
    "OUTBOUND_KINDS",
    "PROTOCOL_VERSION",
    "TOPIC_ROOT",
    "Kind",
    "Lane",
    "lane_of",
    "parse_topic",
    "peek_device_id",
    "shared_filter",
    "subscription_filters",
    "topic_for",
]

PROTOCOL_VERSION = 1
TOPIC_ROOT = "hyt/v1/d"

_PREFIX = TOPIC_ROOT + "/"
# IMEIs (15 digits), serial numbers and UUID-ish ids all fit; MQTT wildcards and "/" never do.
DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)


class Kind(StrEnum):
    """What a message is; its value is the topic suffix after the device id."""

    SOS = "evt/sos"
    FALL = "evt/fall"
    ALARM = "evt/alarm"
    LOCATION = "tel/location"
    VITALS = "tel/vitals"
    HEARTBEAT = "tel/heartbeat"
    STATUS = "status"
    ACK = "ack"
    CMD_REQ = "cmd/req"
    CMD_RES = "cmd/res"


class Lane(StrEnum):
    """The server's ingest paths; an emergency never waits behind telemetry."""

    EMERGENCY = "emergency"
    TELEMETRY = "telemetry"


_LANES: dict[Kind, Lane] = {
    Kind.SOS: Lane.EMERGENCY,
    Kind.FALL: Lane.EMERGENCY,
    Kind.ALARM: Lane.EMERGENCY,
    Kind.LOCATION: Lane.TELEMETRY,
    Kind.VITALS: Lane.TELEMETRY,
    Kind.HEARTBEAT: Lane.TELEMETRY,
    Kind.STATUS: Lane.TELEMETRY,
    Kind.CMD_RES: Lane.TELEMETRY,
}

INBOUND_KINDS: frozenset[Kind] = frozenset(_LANES)
"""Kinds a device publishes and the server decodes."""

OUTBOUND_KINDS: frozenset[Kind] = frozenset(Kind) - INBOUND_KINDS
"""Kinds the server publishes to a device (``ack``, ``cmd/req``)."""

_FILTERS: dict[Lane, list[str]] = {
    Lane.EMERGENCY: [f"{TOPIC_ROOT}/+/evt/+"],
    Lane.TELEMETRY: [
        f"{TOPIC_ROOT}/+/tel/+",
        f"{TOPIC_ROOT}/+/status",
        f"{TOPIC_ROOT}/+/cmd/res",
    ],
}

_KIND_BY_SUFFIX: dict[str, Kind] = {kind.value: kind for kind in Kind}


def lane_of(kind: Kind) -> Lane:
    """The ingest lane of a device-to-server kind; ``ValueError`` for server-to-device kinds."""
    try:
        return _LANES[kind]
    except KeyError:
        raise ValueError(
            f"'{kind}' is sent by the server to devices; it has no ingest lane"
        ) from None


def topic_for(device_id: str, kind: Kind) -> str:
    """The topic a message of ``kind`` about ``device_id`` is published on."""
    if _DEVICE_ID.fullmatch(device_id) is None:
        raise TopicError(f"bad device id {short_repr(device_id)}: expected 1-64 of A-Z a-z 0-9 _ -")
    return f"{_PREFIX}{device_id}/{kind.value}"


def parse_topic(topic: str) -> tuple[str, Kind]:
    """Split a concrete topic into its device id and kind, or raise ``TopicError``."""
    if not topic.startswith(_PREFIX):
        raise TopicError(f"topic {short_repr(topic)} is not under {TOPIC_ROOT}/")
    device_id, _, suffix = topic[len(_PREFIX) :].partition("/")
    if _DEVICE_ID.fullmatch(device_id) is None:
        raise TopicError(
            f"bad device id {short_repr(device_id)} in topic {short_repr(topic)}:"
            " expected 1-64 of A-Z a-z 0-9 _ -"
        )
    kind = _KIND_BY_SUFFIX.get(suffix)
    if kind is None:
        raise TopicError(
            f"unknown message kind {short_repr(suffix)} in topic {short_repr(topic)}",
            device_id=device_id,
        )
    return device_id, kind


def peek_device_id(topic: str) -> str | None:
    """The device id in a topic under the protocol root, even if its kind is unknown; else None."""
    if not topic.startswith(_PREFIX):
        return None
    device_id = topic[len(_PREFIX) :].partition("/")[0]
    return device_id if _DEVICE_ID.fullmatch(device_id) else None


def subscription_filters(lane: Lane) -> list[str]:
    """MQTT topic filters covering every device-to-server kind of ``lane``."""
    return list(_FILTERS[lane])


def shared_filter(filter: str, group: str) -> str:
    """An MQTT v5 shared subscription, so each message goes to one server in ``group``."""
    if not group or any(char in group for char in "/+#"):
        raise ValueError(f"bad shared-subscription group {group!r}: no '/', '+' or '#' allowed")
    return f"$share/{group}/{filter}"
