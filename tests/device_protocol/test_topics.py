"""Topics, lanes and subscription filters."""

from __future__ import annotations

import pytest

from device_protocol import (
    INBOUND_KINDS,
    OUTBOUND_KINDS,
    TOPIC_ROOT,
    Kind,
    Lane,
    TopicError,
    lane_of,
    parse_topic,
    peek_device_id,
    shared_filter,
    subscription_filters,
    topic_for,
)

DEVICE = "860000000000001"

LANE_TABLE: list[tuple[Kind, Lane]] = [
    (Kind.SOS, Lane.EMERGENCY),
    (Kind.FALL, Lane.EMERGENCY),
    (Kind.ALARM, Lane.EMERGENCY),
    (Kind.LOCATION, Lane.TELEMETRY),
    (Kind.VITALS, Lane.TELEMETRY),
    (Kind.HEARTBEAT, Lane.TELEMETRY),
    (Kind.STATUS, Lane.TELEMETRY),
    (Kind.CMD_RES, Lane.TELEMETRY),
]


def _matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic-filter matching, enough for '+' and '#'."""
    levels, wanted = topic.split("/"), topic_filter.split("/")
    for index, pattern in enumerate(wanted):
        if pattern == "#":
            return True
        if index >= len(levels) or pattern not in ("+", levels[index]):
            return False
    return len(levels) == len(wanted)


@pytest.mark.parametrize("kind", list(Kind))
def test_topic_for_and_parse_topic_are_inverse(kind: Kind) -> None:
    """Parsing the topic built for a device and kind gives back that device and kind."""
    topic = topic_for(DEVICE, kind)
    assert topic == f"hyt/v1/d/{DEVICE}/{kind.value}"
    assert parse_topic(topic) == (DEVICE, kind)


def test_kind_values_are_the_documented_topic_suffixes() -> None:
    """The kinds are exactly the ten topic suffixes of the v1 table."""
    assert [kind.value for kind in Kind] == [
        "evt/sos",
        "evt/fall",
        "evt/alarm",
        "tel/location",
        "tel/vitals",
        "tel/heartbeat",
        "status",
        "ack",
        "cmd/req",
        "cmd/res",
    ]


@pytest.mark.parametrize("device_id", ["", "a/b", "+", "#", "86 00", "ünïcode", "x" * 65, "a\n"])
def test_topic_for_refuses_bad_device_ids(device_id: str) -> None:
    """Building a topic for a malformed device id raises TopicError instead of a wildcard topic."""
    with pytest.raises(TopicError, match="bad device id"):
        topic_for(device_id, Kind.ACK)


@pytest.mark.parametrize("device_id", ["860000000000001", "a", "A-b_9", "x" * 64])
def test_good_device_ids_are_accepted(device_id: str) -> None:
    """IMEIs and other ids of 1-64 letters, digits, '_' and '-' are accepted."""
    assert parse_topic(topic_for(device_id, Kind.SOS)) == (device_id, Kind.SOS)


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("", "is not under"),
        ("hyt/v1/d", "is not under"),
        ("/hyt/v1/d/860000000000001/status", "is not under"),
        ("hyt/v1/d/860000000000001/evt", "unknown message kind 'evt'"),
        ("hyt/v1/d/860000000000001/tel/location/extra", "unknown message kind"),
        ("hyt/v1/d/86#/status", "bad device id '86#'"),
    ],
)
def test_parse_topic_rejects_foreign_and_malformed_topics(topic: str, reason: str) -> None:
    """Topics outside the tree, with a bad device id or an unknown kind raise TopicError."""
    with pytest.raises(TopicError, match=reason):
        parse_topic(topic)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (f"hyt/v1/d/{DEVICE}/evt/sos", DEVICE),
        (f"hyt/v1/d/{DEVICE}/evt/unknown", DEVICE),
        (f"hyt/v1/d/{DEVICE}", DEVICE),
        ("hyt/v1/d/+/evt/sos", None),
        ("other/860000000000001/evt/sos", None),
        ("", None),
    ],
)
def test_peek_device_id_reads_what_it_can(topic: str, expected: str | None) -> None:
    """The device id is read from any topic in the tree, even with an unknown kind."""
    assert peek_device_id(topic) == expected


@pytest.mark.parametrize(("kind", "lane"), LANE_TABLE)
def test_each_device_kind_has_its_lane(kind: Kind, lane: Lane) -> None:
    """Emergency events go on the emergency lane and everything else a device sends on telemetry."""
    assert lane_of(kind) is lane


@pytest.mark.parametrize("kind", [Kind.ACK, Kind.CMD_REQ])
def test_server_to_device_kinds_have_no_lane(kind: Kind) -> None:
    """The server never ingests acks or command requests, so asking for their lane is an error."""
    with pytest.raises(ValueError, match="has no ingest lane"):
        lane_of(kind)


def test_directions_partition_the_kinds() -> None:
    """Every kind is either inbound or outbound, never both."""
    assert set(Kind) == INBOUND_KINDS | OUTBOUND_KINDS
    assert not INBOUND_KINDS & OUTBOUND_KINDS
    assert {kind for kind, _ in LANE_TABLE} == INBOUND_KINDS


def test_subscription_filters_are_the_documented_ones() -> None:
    """Each lane subscribes with the filters the design names."""
    assert subscription_filters(Lane.EMERGENCY) == ["hyt/v1/d/+/evt/+"]
    assert subscription_filters(Lane.TELEMETRY) == [
        "hyt/v1/d/+/tel/+",
        "hyt/v1/d/+/status",
        "hyt/v1/d/+/cmd/res",
    ]


@pytest.mark.parametrize("kind", list(Kind))
def test_every_topic_is_matched_by_its_own_lane_only(kind: Kind) -> None:
    """A device kind's topic matches its lane's filters and no other lane's; server kinds none."""
    topic = topic_for(DEVICE, kind)
    matched = {lane for lane in Lane for f in subscription_filters(lane) if _matches(f, topic)}
    expected = {lane_of(kind)} if kind in INBOUND_KINDS else set()
    assert matched == expected


def test_subscription_filters_return_a_fresh_list() -> None:
    """Mutating the returned filters cannot change what the next caller subscribes to."""
    subscription_filters(Lane.EMERGENCY).append("#")
    assert subscription_filters(Lane.EMERGENCY) == [f"{TOPIC_ROOT}/+/evt/+"]


def test_shared_filter_prefixes_the_group() -> None:
    """A shared subscription is '$share/{group}/{filter}'."""
    assert shared_filter("hyt/v1/d/+/evt/+", "huyuan") == "$share/huyuan/hyt/v1/d/+/evt/+"


@pytest.mark.parametrize("group", ["", "a/b", "+", "#"])
def test_shared_filter_refuses_bad_group_names(group: str) -> None:
    """A group name that would change the filter's meaning is refused."""
    with pytest.raises(ValueError, match="bad shared-subscription group"):
        shared_filter("hyt/v1/d/+/evt/+", group)
