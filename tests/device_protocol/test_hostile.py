"""The hostile corpus: every frame is refused, flagged or (at the limits) safely accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from device_protocol import (
    INBOUND_KINDS,
    Ack,
    EmergencyEvent,
    Kind,
    ProtocolError,
    decode,
    decode_outbound,
    encode,
    parse_topic,
    topic_for,
)

from .frames import check_bounded, check_invariants, check_refusal
from .hostile_corpus import ACCEPTED, DEVICE, FLAGGED, HOSTILE_CORPUS, RECEIVED_AT

CORPUS = pytest.mark.parametrize(
    ("name", "topic", "payload"), HOSTILE_CORPUS, ids=[name for name, _, _ in HOSTILE_CORPUS]
)


@CORPUS
def test_with_server_time_each_frame_has_its_documented_outcome(
    name: str, topic: str, payload: bytes
) -> None:
    """Decoded on server time, a hostile frame is refused, flagged or accepted as listed."""
    if name not in FLAGGED | ACCEPTED:
        with pytest.raises(ProtocolError) as caught:
            decode(topic, payload, received_at=RECEIVED_AT)
        check_refusal(caught.value)
        return
    message = decode(topic, payload, received_at=RECEIVED_AT)
    check_bounded(message)
    if name in FLAGGED:
        assert isinstance(message, EmergencyEvent)
        assert message.clock_rejected
        assert message.ts == RECEIVED_AT
    else:
        check_invariants(topic, payload, message)
        if isinstance(message, EmergencyEvent):
            assert message.clock_rejected is None


@CORPUS
def test_without_server_time_each_frame_is_refused_or_safe(
    name: str, topic: str, payload: bytes
) -> None:
    """Decoded without server time, a hostile frame is refused or decodes to a bounded message."""
    try:
        message = decode(topic, payload)
    except ProtocolError as exc:
        check_refusal(exc)
        assert name not in ACCEPTED, "what is accepted on server time is accepted without it"
    else:
        check_bounded(message)
        assert not isinstance(message, EmergencyEvent) or message.clock_rejected is None


@CORPUS
def test_a_refused_frame_can_still_be_answered(name: str, topic: str, payload: bytes) -> None:
    """A refusal's msg_id and reason always fit a 'rejected' ack the device can read back."""
    try:
        decode(topic, payload, received_at=RECEIVED_AT)
    except ProtocolError as exc:
        if exc.msg_id is None:
            return
        ack = Ack(
            v=1,
            msg_id="srv-1",
            device_id=exc.device_id or DEVICE,
            ts=RECEIVED_AT,
            ack_of=exc.msg_id,
            result="rejected",
            reason=exc.reason,
        )
        assert decode_outbound(topic_for(ack.device_id, Kind.ACK), encode(ack)) == ack


def test_the_corpus_covers_every_inbound_kind_and_outcome() -> None:
    """Every inbound kind has hostile frames, and each outcome has examples on several kinds."""
    by_kind = {topic_for(DEVICE, kind): kind for kind in Kind}
    kinds = {by_kind[topic] for _, topic, _ in HOSTILE_CORPUS if topic in by_kind}
    assert kinds >= INBOUND_KINDS
    flagged_kinds = {parse_topic(t)[1] for n, t, _ in HOSTILE_CORPUS if n in FLAGGED}
    assert flagged_kinds == {Kind.SOS, Kind.FALL, Kind.ALARM}
    assert len(ACCEPTED) >= 10


def test_the_corpus_holds_the_killers_of_issue_7() -> None:
    """The frames that stopped the server on landed main are all in the corpus, by name."""
    names = {name for name, _, _ in HOSTILE_CORPUS}
    assert {
        "16 alarm codes of 64 characters (1,039 joined)",
        "NUL in an alarm code",
        "NUL in detail",
        "evt/sos: NUL in msg_id",
        "heartbeat interval 2**31",
        "heartbeat interval 10**12",
        "evt/sos: ts year 1 +23:59",
        "evt/sos: ts year 9999 -23:59",
        "tel/location: ts year 9999 -23:59",
        "SOS fix_ts year 9999 -23:59",
    } <= names


def test_an_accepted_emergency_ignores_a_clock_flag_sent_on_the_wire() -> None:
    """A device cannot set clock_rejected: a field of that name is an unknown field."""
    [(topic, payload)] = [(t, p) for n, t, p in HOSTILE_CORPUS if n.startswith("clock_rejected")]
    message = decode(topic, payload, received_at=datetime(2024, 5, 1, tzinfo=UTC))
    assert isinstance(message, EmergencyEvent)
    assert message.clock_rejected is None
