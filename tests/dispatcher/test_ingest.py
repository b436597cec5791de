"""Ingest of device messages into a real database, with a hand-written fake broker connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from dispatcher.clock import FakeClock
from dispatcher.ingest import Ingest, mark_silent_devices_offline
from dispatcher.store.database import Database
from dispatcher.store.models import DeadLetter, Device, Incident, TelemetryEvent, TimelineEntry
from dispatcher.timers import TimerLoop
from dispatcher.vitals import VitalThresholds
from dispatcher.workflow import Workflow
from tests.dispatcher.district import T0, District, load

E1_DEVICE = "860000000000001"


@dataclass(frozen=True)
class Msg:
    topic: str
    payload: bytes
    received_at: datetime


@dataclass
class FakeBroker:
    """Records what ingest acknowledges to the broker and publishes to devices."""

    acked: list[Msg] = field(default_factory=list)
    published: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def ack(self, msg: Any) -> None:
        self.acked.append(msg)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self.published.append((topic, orjson.loads(payload)))


def frame(kind: str, device_id: str, msg_id: str, at: datetime, **body: Any) -> Msg:
    payload = {"v": 1, "msg_id": msg_id, "device_id": device_id, "ts": at.isoformat(), **body}
    return Msg(f"hyt/v1/d/{device_id}/{kind}", orjson.dumps(payload), at)


def sos(msg_id: str, at: datetime = T0, device_id: str = E1_DEVICE, **extra: Any) -> Msg:
    body = {
        "state": "raised",
        "location": {"lat": 23.3701, "lon": 116.7001, "fix": "gnss"},
        "battery_pct": 64,
        **extra,
    }
    return frame("evt/sos", device_id, msg_id, at, **body)


@pytest.fixture
async def district(database: Database) -> District:
    return await load(database)


@pytest.fixture
def ingest(database: Database) -> Ingest:
    return Ingest(database, Workflow(database), VitalThresholds(), clock=FakeClock(T0))


async def count(db: Database, model: Any) -> int:
    async with db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_sos_opens_an_incident_and_the_device_gets_an_accepted_ack(
    ingest: Ingest, district: District
) -> None:
    """An SOS is committed, acknowledged to the broker, and answered with an incident id."""
    broker = FakeBroker()
    msg = sos("a1")
    await ingest.handle_emergency(msg, broker)
    assert broker.acked == [msg]
    ((topic, ack),) = broker.published
    assert topic == f"hyt/v1/d/{E1_DEVICE}/ack"
    assert (ack["ack_of"], ack["result"]) == ("a1", "accepted")
    assert ack["incident_id"] is not None and ack["prompt"]
    async with ingest.db.session() as s:
        incident = await s.get_one(Incident, ack["incident_id"])
    assert (incident.category, incident.kind, incident.elder_id) == (
        "emergency",
        "sos",
        district.e1,
    )
    assert incident.created_at == T0  # the server's receive time starts the clock


async def test_the_same_sos_again_is_a_duplicate_not_a_second_incident(
    ingest: Ingest, district: District
) -> None:
    """A QoS 1 redelivery or device retry (same msg_id) is answered duplicate with the same id."""
    broker = FakeBroker()
    await ingest.handle_emergency(sos("a1"), broker)
    await ingest.handle_emergency(sos("a1", T0 + timedelta(seconds=5)), broker)
    first, second = (ack for _, ack in broker.published)
    assert second["result"] == "duplicate"
    assert second["incident_id"] == first["incident_id"]
    assert await count(ingest.db, Incident) == 1


async def test_a_new_press_while_open_joins_the_incident(
    ingest: Ingest, district: District
) -> None:
    """A repeated SOS with a new msg_id is a new press: it joins the open incident's timeline."""
    broker = FakeBroker()
    await ingest.handle_emergency(sos("a1"), broker)
    await ingest.handle_emergency(sos("a2", T0 + timedelta(seconds=40)), broker)
    first, second = (ack for _, ack in broker.published)
    assert second["result"] == "accepted"
    assert second["incident_id"] == first["incident_id"]
    async with ingest.db.session() as s:
        actions = list((await s.execute(select(TimelineEntry.action))).scalars())
    assert "repeat_press" in actions
    assert await count(ingest.db, Incident) == 1


async def test_garbage_on_the_sos_topic_is_dead_lettered_and_the_loop_goes_on(
    ingest: Ingest, district: District
) -> None:
    """Bytes that are not JSON are kept with the reason and acknowledged; nothing crashes."""
    broker = FakeBroker()
    bad = Msg("hyt/v1/d/999000000000001/evt/sos", b"\x00\xffnot json", T0)
    await ingest.handle_emergency(bad, broker)
    await ingest.handle_emergency(sos("a1"), broker)
    assert broker.acked[0] is bad
    async with ingest.db.session() as s:
        (letter,) = (await s.execute(select(DeadLetter))).scalars()
    assert letter.payload == b"\x00\xffnot json"
    assert "JSON" in letter.reason and letter.device_id == "999000000000001"
    assert broker.published[-1][1]["result"] == "accepted"


async def test_an_unreadable_sos_from_a_registered_device_still_reaches_operators(
    ingest: Ingest, district: District
) -> None:
    """Someone pressed SOS: a bad coordinate is rejected, kept, and an incident is opened anyway."""
    broker = FakeBroker()
    bad = sos("a9", location={"lat": 123.0, "lon": 116.7, "fix": "gnss"})
    await ingest.handle_emergency(bad, broker)
    ((_, ack),) = broker.published
    assert ack["result"] == "rejected" and "lat" in ack["reason"]
    assert ack["incident_id"] is not None
    async with ingest.db.session() as s:
        incident = await s.get_one(Incident, ack["incident_id"])
    assert incident.summary.startswith("无法解析的呼救 Unreadable SOS message")
    assert await count(ingest.db, DeadLetter) == 1


async def test_sos_from_an_unregistered_device_is_never_dropped(
    ingest: Ingest, district: District
) -> None:
    """An SOS from a device nobody registered opens an incident marked unregistered."""
    broker = FakeBroker()
    await ingest.handle_emergency(sos("u1", device_id="861111111111111"), broker)
    await ingest.dispatch_pending()
    ((_, ack),) = broker.published
    async with ingest.db.session() as s:
        incident = await s.get_one(Incident, ack["incident_id"])
    assert incident.unregistered and incident.elder_id is None
    assert incident.state == "offered"  # it carried a position, so a helper is on the way


async def test_device_cancel_flags_the_incident_for_the_operator(
    ingest: Ingest, district: District
) -> None:
    """A cancelled SOS does not close the incident; it asks an operator to confirm."""
    broker = FakeBroker()
    await ingest.handle_emergency(sos("a1"), broker)
    await ingest.dispatch_pending()
    await ingest.handle_emergency(
        sos("a2", T0 + timedelta(seconds=9), state="cancelled", trigger="charger_removed"), broker
    )
    async with ingest.db.session() as s:
        (incident,) = (await s.execute(select(Incident))).scalars()
    assert incident.cancel_requested and incident.state == "offered"


async def test_a_late_sos_is_flagged_and_still_handled(ingest: Ingest, district: District) -> None:
    """An SOS the device stamped 20 minutes ago is handled now and marked late for operators."""
    broker = FakeBroker()
    msg = sos("old", T0 - timedelta(minutes=20))
    await ingest.handle_emergency(Msg(msg.topic, msg.payload, T0), broker)
    async with ingest.db.session() as s:
        (incident,) = (await s.execute(select(Incident))).scalars()
    assert incident.late and incident.deadline == T0 + timedelta(minutes=15)


async def test_telemetry_keeps_latest_state_and_history(ingest: Ingest, district: District) -> None:
    """Locations and heartbeats update the device's latest state and are kept as history."""
    broker = FakeBroker()
    batch = [
        frame(
            "tel/location",
            E1_DEVICE,
            "l1",
            T0,
            location={"lat": 23.37, "lon": 116.70, "acc_m": 12, "fix": "wifi"},
        ),
        frame(
            "tel/location",
            E1_DEVICE,
            "l2",
            T0 + timedelta(seconds=1),
            location={"lat": 23.38, "lon": 116.71, "fix": "gnss"},
        ),
        frame(
            "tel/heartbeat",
            E1_DEVICE,
            "h1",
            T0,
            battery_pct=17,
            charging=False,
            worn=True,
            interval_s=600,
        ),
        frame(
            "tel/location",
            E1_DEVICE,
            "l1",
            T0,
            location={"lat": 23.37, "lon": 116.70, "fix": "wifi"},
        ),  # a redelivery
    ]
    await ingest.handle_telemetry(batch, broker)
    assert len(broker.acked) == 4 and broker.published == []
    async with ingest.db.session() as s:
        device = await s.get_one(Device, E1_DEVICE)
    assert (device.last_lat, device.last_fix, device.battery_pct) == (23.38, "gnss", 17)
    assert device.online
    assert device.offline_after == T0 + timedelta(minutes=30, seconds=1)  # 3 x 600 s
    assert await count(ingest.db, TelemetryEvent) == 3


async def test_telemetry_from_an_unregistered_device_is_dead_lettered(
    ingest: Ingest, district: District
) -> None:
    """Telemetry nobody can attribute is kept as a dead letter and the device is told."""
    broker = FakeBroker()
    await ingest.handle_telemetry(
        [
            frame(
                "tel/heartbeat",
                "862222222222222",
                "x1",
                T0,
                battery_pct=50,
                charging=True,
                interval_s=60,
            )
        ],
        broker,
    )
    async with ingest.db.session() as s:
        (letter,) = (await s.execute(select(DeadLetter))).scalars()
    assert letter.reason == "unregistered device"
    assert broker.published[0][1]["result"] == "rejected"


async def test_dangerous_vitals_open_an_emergency_but_failed_readings_never_do(
    ingest: Ingest, district: District
) -> None:
    """SpO2 of 82 % opens an emergency; a failed measurement reported as 0 does not."""
    broker = FakeBroker()
    failed = frame(
        "tel/vitals",
        E1_DEVICE,
        "v0",
        T0,
        heart_rate={"bpm": 0, "status": "failed"},
        spo2={"pct": 0, "status": "invalid"},
    )
    await ingest.handle_telemetry([failed], broker)
    assert await count(ingest.db, Incident) == 0
    low = frame(
        "tel/vitals",
        E1_DEVICE,
        "v1",
        T0,
        heart_rate={"bpm": 96, "status": "valid"},
        spo2={"pct": 82, "status": "valid"},
    )
    await ingest.handle_telemetry([low], broker)
    async with ingest.db.session() as s:
        (incident,) = (await s.execute(select(Incident))).scalars()
    assert (incident.category, incident.kind) == ("emergency", "vitals")
    assert "SpO2 82%" in incident.summary


async def test_a_silent_device_goes_offline_after_three_intervals(
    ingest: Ingest, district: District
) -> None:
    """A device silent for three report intervals is marked offline by the watchdog."""
    await ingest.handle_telemetry(
        [
            frame(
                "tel/heartbeat", E1_DEVICE, "h1", T0, battery_pct=80, charging=False, interval_s=60
            )
        ],
        FakeBroker(),
    )
    async with ingest.db.session() as s:
        assert await mark_silent_devices_offline(s, T0 + timedelta(seconds=179)) == 0
    async with ingest.db.session() as s:
        assert await mark_silent_devices_offline(s, T0 + timedelta(seconds=181)) == 1
        device = await s.get_one(Device, E1_DEVICE)
    assert device.online is False


async def test_a_crash_between_ack_and_matching_loses_no_dispatch(
    ingest: Ingest, district: District
) -> None:
    """The press is committed and acked before matching; if matching never ran, the timer does."""
    broker = FakeBroker()
    await ingest.handle_emergency(sos("a1"), broker)  # acked; the process "dies" before dispatch
    async with ingest.db.session() as s:
        (incident,) = (await s.execute(select(Incident))).scalars()
    assert incident.state == "open"
    restarted = TimerLoop(ingest.db, Workflow(ingest.db), FakeClock(T0 + timedelta(seconds=2)))
    assert await restarted.tick() == 1
    async with ingest.db.session() as s:
        assert (await s.get_one(Incident, incident.id)).state == "offered"
