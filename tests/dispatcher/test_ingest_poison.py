"""No device message can stop a lane: hostile frames through decode and the real store, guarded.

Every test runs on SQLite and PostgreSQL (PostgreSQL is the stricter: NUL in text, VARCHAR
lengths, 32-bit integers). Messages go through ``GuardedIngest``, what the server's lane loops
call, with a fake broker that records acknowledgements; the invariants are the issue's: each
message is acknowledged exactly once, it is either stored or kept as a dead letter, nothing
escapes, and an SOS sent afterwards is accepted.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from device_protocol import Kind, Lane, ProtocolError, decode, lane_of, parse_topic, topic_for
from dispatcher.clock import FakeClock, utcnow
from dispatcher.core import NewIncident
from dispatcher.ingest import Ingest
from dispatcher.lane_guard import GuardedIngest, LaneGuard
from dispatcher.store.database import Database
from dispatcher.store.models import (
    DeadLetter,
    Device,
    Incident,
    ReceivedMessage,
    TelemetryEvent,
)
from dispatcher.vitals import VitalThresholds
from dispatcher.workflow import Workflow
from tests.device_protocol.hostile_corpus import ACCEPTED, HOSTILE_CORPUS, RECEIVED_AT
from tests.dispatcher.district import T0, District, load
from tests.dispatcher.test_ingest import E1_DEVICE, FakeBroker, Msg
from tests.support.hostile_messages import (
    INBOUND,
    Frame,
    Fuzzer,
    Raw,
    encode_json,
    msg_key,
    valid_body,
)

E2_DEVICE = "860000000000002"
DEVICES = (E1_DEVICE, E2_DEVICE)


async def no_pause(_seconds: float) -> None:
    return None


def guarded(db: Database, workflow: Workflow | None = None) -> GuardedIngest:
    ingest = Ingest(db, workflow or Workflow(db), VitalThresholds(), clock=utcnow)
    return GuardedIngest(ingest, LaneGuard(sleep=no_pause))


@pytest.fixture
async def district(database: Database) -> District:
    return await load(database, now())  # frames carry real time: the contract checks ts by it


def now() -> datetime:
    return datetime.now(UTC)


def hostile(kind: Kind, device: str = E1_DEVICE, /, **changes: Any) -> Frame:
    """A valid frame of ``kind`` with fields replaced (dotted names reach into objects)."""
    body = valid_body(kind, device, f"h-{kind.name.lower()}-{len(changes)}-{id(changes)}", now())
    for dotted, value in changes.items():
        target = body
        *path, leaf = dotted.split(".")
        for step in path:
            target = target[step]
        target[leaf] = value
    return Frame(topic_for(device, kind), encode_json(body), repr(changes)[:80])


# The payloads that killed the server in issue 7, and their neighbours.
CORPUS: list[tuple[str, Frame]] = [
    ("alarm codes joined past VARCHAR(200)", hostile(Kind.ALARM, alarms=["x" * 60] * 5)),
    ("forty alarm codes", hostile(Kind.ALARM, alarms=[f"vendor_{i}" for i in range(40)])),
    ("NUL in an alarm code", hostile(Kind.ALARM, alarms=["low_battery", "a\x00b"])),
    ("NUL in an SOS msg_id", hostile(Kind.SOS, msg_id="a\x00b")),
    ("NUL in a location msg_id", hostile(Kind.LOCATION, msg_id="\x00")),
    ("NUL in an SOS trigger", hostile(Kind.SOS, trigger="button\x00")),
    ("NUL in a command detail", hostile(Kind.CMD_RES, detail="ok\x00")),
    ("a 10,000-character detail", hostile(Kind.CMD_RES, detail="x" * 10_000)),
    ("a lone surrogate msg_id", hostile(Kind.FALL, msg_id="\ud800")),
    ("heartbeat interval 2**31", hostile(Kind.HEARTBEAT, interval_s=2**31)),
    ("heartbeat interval 10**12", hostile(Kind.HEARTBEAT, interval_s=10**12)),
    ("battery 2**31", hostile(Kind.HEARTBEAT, battery_pct=2**31)),
    ("SOS ts year 1 +23:59", hostile(Kind.SOS, ts="0001-01-01T00:00:00+23:59")),
    ("SOS ts year 9999 -23:59", hostile(Kind.SOS, ts="9999-12-31T23:59:59-23:59")),
    ("fix_ts year 1 +23:59", hostile(Kind.FALL, **{"location.fix_ts": "0001-01-01T00:00+23:59"})),
    ("location ts year 9999", hostile(Kind.LOCATION, ts="9999-12-31T23:59:59-23:59")),
    ("accuracy 1e308", hostile(Kind.LOCATION, **{"location.acc_m": 1e308})),
    ("heart rate 10**30", hostile(Kind.VITALS, **{"heart_rate.bpm": 10**30})),
    ("heart rate of 5,000 digits", hostile(Kind.VITALS, **{"heart_rate.bpm": Raw("9" * 5000)})),
    ("temperature NaN", hostile(Kind.VITALS, **{"temperature.celsius": Raw("NaN")})),
    ("status state NUL", hostile(Kind.STATUS, state="\x00")),
    ("seq 2**64", hostile(Kind.LOCATION, seq=2**64)),
    ("not JSON on evt/sos", Frame(topic_for(E1_DEVICE, Kind.SOS), b"\x00\xff{", "junk")),
    ("200 KB of SOS", Frame(topic_for(E1_DEVICE, Kind.SOS), b'{"v":1}' + b" " * 200_000, "big")),
    ("nested 100,000 deep", Frame(topic_for(E1_DEVICE, Kind.LOCATION), b"[" * 100_000, "deep")),
    ("a 5,000-character device segment", Frame("hyt/v1/d/" + "x" * 5000 + "/evt/sos", b"{}", "")),
    ("an unknown kind", Frame(f"hyt/v1/d/{E1_DEVICE}/evt/teleport", b"{}", "")),
]


def lane(frame: Frame) -> Lane:
    try:
        return lane_of(parse_topic(frame.topic)[1])
    except (ProtocolError, ValueError):
        return Lane.EMERGENCY if "/evt/" in frame.topic else Lane.TELEMETRY


async def run(lanes: GuardedIngest, frames: Sequence[Frame], broker: FakeBroker) -> list[Msg]:
    """Emergencies one by one, telemetry as one batch: as the server's two loops do."""
    return await run_at(lanes, frames, broker, now())


async def run_at(
    lanes: GuardedIngest, frames: Sequence[Frame], broker: FakeBroker, at: datetime
) -> list[Msg]:
    msgs = [Msg(f.topic, f.payload, at) for f in frames]
    for msg, frame in zip(msgs, frames, strict=True):
        if lane(frame) is Lane.EMERGENCY:
            await lanes.emergency(msg, broker)
    telemetry = [m for m, f in zip(msgs, frames, strict=True) if lane(f) is Lane.TELEMETRY]
    if telemetry:
        await lanes.telemetry(telemetry, broker)
    return msgs


async def unaccounted(db: Database, frames: Sequence[Frame], at: datetime) -> list[str]:
    """Frames neither stored nor kept as a dead letter (the contract's refusals must be dead).

    Each is named by its note and the start of its topic (a hostile topic can be a megabyte).
    """
    async with db.session() as s:
        stored = {
            (d, m)
            for model in (ReceivedMessage, TelemetryEvent)
            for d, m in await s.execute(select(model.device_id, model.msg_id))
        }
        dead = {(t, p) for t, p in await s.execute(select(DeadLetter.topic, DeadLetter.payload))}
    missing = []
    for frame in frames:
        if (printable(frame.topic)[:65_535], frame.payload[: 1024 * 1024]) in dead:
            continue
        try:
            decode(frame.topic, frame.payload, received_at=at)
        except ProtocolError:
            missing.append(f"{frame.note} {frame.topic[:60]!r}")  # refused: must be dead
            continue
        if msg_key(frame) not in stored:
            missing.append(f"{frame.note} {frame.topic[:60]!r}")
    return missing


def printable(topic: str) -> str:
    """A topic as a dead letter keeps it: control characters escaped (\\x00), never refused."""
    topic = topic.encode("utf-8", "backslashreplace").decode("utf-8")
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", topic)


async def assert_an_sos_is_still_accepted(lanes: GuardedIngest, msg_id: str) -> None:
    broker = FakeBroker()
    sos = Frame(
        topic_for(E1_DEVICE, Kind.SOS),
        encode_json(valid_body(Kind.SOS, E1_DEVICE, msg_id, now())),
        "clean",
    )
    await run(lanes, [sos], broker)
    ((_, ack),) = broker.published
    assert (ack["ack_of"], ack["result"]) == (msg_id, "accepted")


@pytest.mark.parametrize(("case", "frame"), CORPUS, ids=[c for c, _ in CORPUS])
async def test_each_hostile_message_is_stored_or_dead_lettered_and_the_lane_goes_on(
    database: Database, district: District, case: str, frame: Frame
) -> None:
    """A payload that once killed the server is acknowledged once, kept, and an SOS still works."""
    lanes = guarded(database)
    broker = FakeBroker()
    (msg,) = await run(lanes, [frame], broker)
    assert broker.acked == [msg]
    assert await unaccounted(database, [frame], msg.received_at) == []
    await assert_an_sos_is_still_accepted(lanes, "after-1")


@pytest.mark.parametrize("lane_of_frames", ["one by one", "telemetry batched"])
async def test_the_contracts_hostile_corpus_is_kept_whole_by_the_store(
    database: Database, lane_of_frames: str
) -> None:
    """Every frame of device_protocol's hostile corpus: acked once, stored or dead-lettered."""
    await load(database, RECEIVED_AT)
    lanes = guarded(database)
    frames = [Frame(topic, payload, name) for name, topic, payload in HOSTILE_CORPUS]
    broker = FakeBroker()
    msgs = [Msg(f.topic, f.payload, RECEIVED_AT) for f in frames]
    if lane_of_frames == "one by one":
        for msg, frame in zip(msgs, frames, strict=True):
            before = len(broker.acked)
            if lane(frame) is Lane.EMERGENCY:
                await lanes.emergency(msg, broker)
            else:
                await lanes.telemetry([msg], broker)
            assert len(broker.acked) == before + 1 and broker.acked[-1] is msg, frame.note
    else:
        msgs = await run_at(lanes, frames, broker, RECEIVED_AT)
    assert sorted(map(id, broker.acked)) == sorted(map(id, msgs))
    assert await unaccounted(database, frames, RECEIVED_AT) == []
    await assert_an_sos_is_still_accepted(lanes, "after-corpus")


async def test_legal_frames_at_the_contracts_limits_are_stored_not_refused(
    database: Database,
) -> None:
    """The corpus's legal edge cases (16 codes of 64 characters, seq 2**63-1, ...) all commit."""
    await load(database, RECEIVED_AT)
    lanes = guarded(database)
    frames = []
    for i, (name, topic, payload) in enumerate(HOSTILE_CORPUS):
        if name in ACCEPTED:
            body = json.loads(payload)
            body["msg_id"] = f"edge-{i}"  # the corpus reuses one msg_id: keep each from dedupe
            frames.append(Frame(topic, json.dumps(body).encode(), name))
    assert len(frames) == len(ACCEPTED)
    await run_at(lanes, frames, FakeBroker(), RECEIVED_AT)
    async with database.session() as s:
        stored = {
            (d, m)
            for model in (ReceivedMessage, TelemetryEvent)
            for d, m in await s.execute(select(model.device_id, model.msg_id))
        }
        dead = list((await s.execute(select(DeadLetter.reason))).scalars())
    assert dead == []
    assert [f.note for f in frames if msg_key(f) not in stored] == []


async def test_the_whole_corpus_in_one_telemetry_batch_keeps_every_good_message(
    database: Database, district: District
) -> None:
    """A poisoned batch is split: the good reports in it are stored, the bad ones dead-lettered."""
    lanes = guarded(database)
    broker = FakeBroker()
    good = [
        Frame(
            topic_for(E2_DEVICE, kind),
            encode_json(valid_body(kind, E2_DEVICE, f"good-{i}", now())),
            "valid",
        )
        for i, kind in enumerate((Kind.LOCATION, Kind.HEARTBEAT, Kind.VITALS, Kind.STATUS))
    ]
    frames = [*good, *(f for _, f in CORPUS if lane(f) is Lane.TELEMETRY)]
    msgs = await run(lanes, frames, broker)
    assert sorted(map(id, broker.acked)) == sorted(map(id, msgs))
    assert await unaccounted(database, frames, msgs[0].received_at) == []
    async with database.session() as s:
        stored = set((await s.execute(select(TelemetryEvent.msg_id))).scalars())
    assert {f"good-{i}" for i in range(4)} <= stored


class FlakyWorkflow(Workflow):
    """The store refusing a transaction (a column, a constraint, a bug): N openings fail."""

    def __init__(self, db: Database, failures: int) -> None:
        super().__init__(db)
        self.failures = failures

    async def open(self, s: AsyncSession, new: NewIncident, now: datetime) -> Incident:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("injected: value too long for type character varying(300)")
        return await super().open(s, new, now)


async def count(db: Database, model: Any) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_an_sos_the_store_refuses_once_is_retried_and_accepted(
    database: Database, district: District
) -> None:
    """One failed transaction is retried in a fresh one: accepted, and no dead letter."""
    lanes = guarded(database, FlakyWorkflow(database, failures=1))
    broker = FakeBroker()
    sos = Msg(
        topic_for(E1_DEVICE, Kind.SOS),
        encode_json(valid_body(Kind.SOS, E1_DEVICE, "s1", now())),
        now(),
    )
    await lanes.emergency(sos, broker)
    assert broker.acked == [sos]
    ((_, ack),) = broker.published
    assert ack["result"] == "accepted" and ack["incident_id"] is not None
    assert await count(database, DeadLetter) == 0
    assert lanes.guard.retried == 1 and lanes.guard.refused == 0


async def test_an_sos_the_store_refuses_twice_is_dead_lettered_and_still_opens_an_incident(
    database: Database, district: District
) -> None:
    """Someone pressed the button: refused twice, it is kept and acked, operators still see it."""
    lanes = guarded(database, FlakyWorkflow(database, failures=2))
    broker = FakeBroker()
    sos = Msg(
        topic_for(E1_DEVICE, Kind.SOS),
        encode_json(valid_body(Kind.SOS, E1_DEVICE, "s1", now())),
        now(),
    )
    await lanes.emergency(sos, broker)
    assert broker.acked == [sos]
    ((_, ack),) = broker.published
    assert (ack["ack_of"], ack["result"]) == ("s1", "rejected")
    assert ack["incident_id"] is not None
    async with database.session() as s:
        (letter,) = (await s.execute(select(DeadLetter))).scalars()
        incident = await s.get_one(Incident, ack["incident_id"])
    assert letter.payload == sos.payload and "twice" in letter.reason
    assert "injected" in letter.reason and "INSERT" not in letter.reason
    assert incident.kind == "sos" and incident.summary.startswith("无法解析的呼救")
    await lanes.ingest.dispatch_pending()
    async with database.session() as s:
        assert (await s.get_one(Incident, incident.id)).state == "offered"
    # The device retries the same msg_id until it hears back: the same incident, no second one.
    await lanes.emergency(Msg(sos.topic, sos.payload, now()), broker)
    assert broker.published[-1][1]["incident_id"] == incident.id
    assert await count(database, Incident) == 1


async def test_a_telemetry_message_the_store_refuses_is_split_out_of_its_batch(
    database: Database, district: District
) -> None:
    """Abnormal vitals whose incident cannot be written: refused alone, its batch-mates stored."""
    lanes = guarded(database, FlakyWorkflow(database, failures=3))
    broker = FakeBroker()
    vitals = valid_body(Kind.VITALS, E1_DEVICE, "v1", now())
    vitals["spo2"] = {"pct": 80, "status": "valid"}
    frames = [
        (Kind.LOCATION, encode_json(valid_body(Kind.LOCATION, E1_DEVICE, "l1", now()))),
        (Kind.VITALS, encode_json(vitals)),
        (Kind.HEARTBEAT, encode_json(valid_body(Kind.HEARTBEAT, E2_DEVICE, "h1", now()))),
    ]
    msgs = [Msg(topic_for(E1_DEVICE, k), p, now()) for k, p in frames[:2]]
    msgs.append(Msg(topic_for(E2_DEVICE, frames[2][0]), frames[2][1], now()))
    await lanes.telemetry(msgs, broker)
    assert sorted(map(id, broker.acked)) == sorted(map(id, msgs))
    async with database.session() as s:
        stored = set((await s.execute(select(TelemetryEvent.msg_id))).scalars())
        (letter,) = (await s.execute(select(DeadLetter))).scalars()
    assert stored == {"l1", "h1"}
    assert letter.payload == msgs[1].payload
    assert [ack["result"] for _, ack in broker.published] == ["rejected"]


class Outage:
    """The database as ingest sees it, with a switch: sessions fail as a refused connection does."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.down = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)

    @asynccontextmanager
    async def session(self, *, priority: bool = False) -> AsyncIterator[AsyncSession]:
        if self.down:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        async with self._db.session(priority=priority) as s:
            yield s


@pytest.mark.parametrize("which", ["emergency", "telemetry"])
async def test_an_outage_pauses_a_lane_without_acknowledging_then_it_resumes(
    database: Database, district: District, which: str
) -> None:
    """While the database is unreachable nothing is acked or dead-lettered; then it is stored."""
    outage = Outage(database)
    ingest = Ingest(
        cast(Database, outage), Workflow(database), VitalThresholds(), clock=FakeClock(T0)
    )
    broker = FakeBroker()
    seen: list[tuple[int, bool]] = []

    async def pause(_seconds: float) -> None:
        seen.append((len(broker.acked), guard.health.ok))
        if len(seen) == 4:
            outage.down = False  # the database is back

    guard = LaneGuard(sleep=pause)
    lanes = GuardedIngest(ingest, guard)
    kind = Kind.SOS if which == "emergency" else Kind.LOCATION
    msg = Msg(
        topic_for(E1_DEVICE, kind), encode_json(valid_body(kind, E1_DEVICE, "o1", now())), now()
    )
    outage.down = True
    if which == "emergency":
        await lanes.emergency(msg, broker)
    else:
        await lanes.telemetry([msg], broker)
    assert seen == [(0, False)] * 4
    assert broker.acked == [msg] and guard.health.ok
    assert guard.refused == 0 and await count(database, DeadLetter) == 0
    model = ReceivedMessage if which == "emergency" else TelemetryEvent
    assert await count(database, model) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(INBOUND), value=json_values, data=st.data()
)
async def test_any_hostile_message_on_any_topic_is_stored_or_dead_lettered(
    database: Database,
    district: District,
    seed: int,
    kind: Kind,
    value: Any,
    data: st.DataObject,
) -> None:
    """Property: for seeded fuzz frames and any JSON value in any field, nothing is lost."""
    lanes = guarded(database)
    broker = FakeBroker()
    body = valid_body(kind, E1_DEVICE, f"p-{seed}", now())
    field = data.draw(st.sampled_from(sorted(body)))
    body[field] = value
    frames = [
        Frame(topic_for(E1_DEVICE, kind), encode_json(body), f"{field}={value!r}"[:80]),
        *Fuzzer(seed, DEVICES).frames(6),
    ]
    msgs = await run(lanes, frames, broker)
    assert sorted(map(id, broker.acked)) == sorted(map(id, msgs))
    assert await unaccounted(database, frames, msgs[0].received_at) == []
    await assert_an_sos_is_still_accepted(lanes, f"after-{uuid.uuid4().hex[:12]}")


async def test_dead_letters_keep_their_device_only_when_it_is_a_device_id(
    database: Database, district: District
) -> None:
    """A 5,000-character topic segment is no device id: the dead letter is kept without one."""
    lanes = guarded(database)
    topic = "hyt/v1/d/" + "x" * 5000 + "/evt/sos"
    await run(lanes, [Frame(topic, b"{}", "")], FakeBroker())
    async with database.session() as s:
        (letter,) = (await s.execute(select(DeadLetter))).scalars()
        devices = await s.scalar(select(func.count()).select_from(Device))
    assert letter.device_id is None and letter.topic == topic and devices == 2
