"""The incident workflow against a real database, with time moved by hand."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dispatcher.clock import FakeClock
from dispatcher.errors import Conflict
from dispatcher.store.database import Database
from dispatcher.store.models import Elder, Helper, Incident, Offer, OutboxMessage, TimelineEntry
from dispatcher.timers import TimerLoop
from dispatcher.workflow import Workflow, WorkflowConfig
from sla import Category
from tests.dispatcher.district import T0, District, load

SUPERVISOR = "+8613600000000"


@pytest.fixture
async def district(database: Database) -> District:
    return await load(database)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def workflow(database: Database) -> Workflow:
    return Workflow(
        database,
        WorkflowConfig(supervisor_phones=(SUPERVISOR,), display_tz=ZoneInfo("Asia/Shanghai")),
    )


async def open_sos(workflow: Workflow, district: District, clock: FakeClock) -> int:
    async with workflow.db.session() as s:
        elder = await s.get_one(Elder, district.e1)
        incident = await workflow.open_incident(
            s,
            now=clock(),
            category=Category.EMERGENCY,
            kind="sos",
            summary="SOS button pressed",
            elder=elder,
            device_id="860000000000001",
            lat=elder.home_lat,
            lon=elder.home_lon,
            actor="device:860000000000001",
        )
        return incident.id


async def incident_of(db: Database, incident_id: int) -> Incident:
    async with db.session() as s:
        return await s.get_one(Incident, incident_id)


async def offers_of(db: Database, incident_id: int) -> list[tuple[int, str]]:
    async with db.session() as s:
        rows = await s.execute(
            select(Offer.helper_id, Offer.status)
            .where(Offer.incident_id == incident_id)
            .order_by(Offer.id)
        )
        return [(int(a), str(b)) for a, b in rows]


async def outbox_of(db: Database, incident_id: int) -> list[tuple[str, str, str]]:
    async with db.session() as s:
        rows = await s.execute(
            select(OutboxMessage.purpose, OutboxMessage.recipient, OutboxMessage.body)
            .where(OutboxMessage.incident_id == incident_id)
            .order_by(OutboxMessage.id)
        )
        return [(str(a), str(b), str(c)) for a, b, c in rows]


async def actions_of(db: Database, incident_id: int) -> list[str]:
    async with db.session() as s:
        rows = await s.execute(
            select(TimelineEntry.action)
            .where(TimelineEntry.incident_id == incident_id)
            .order_by(TimelineEntry.id)
        )
        return list(rows.scalars())


async def test_sos_gets_a_15_minute_deadline_and_an_offer_to_the_nearest_helper(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """An SOS opens an emergency due 15 minutes after receipt, offered to the closest helper."""
    incident_id = await open_sos(workflow, district, clock)
    incident = await incident_of(workflow.db, incident_id)
    assert incident.deadline == T0 + timedelta(minutes=15)
    assert incident.state == "offered"
    assert await offers_of(workflow.db, incident_id) == [(district.h1, "pending")]
    sms = await outbox_of(workflow.db, incident_id)
    assert [(p, r) for p, r, _ in sms] == [
        ("family_received", "+8613900000001"),
        ("family_received", "+8613900000002"),
        ("helper_offer", "+8613700000001"),
    ]
    helper_sms = sms[2][2]
    assert "陈秀英" in helper_sms and "金涛社区3栋201房" in helper_sms
    assert "08:15" in helper_sms  # the deadline in Shantou's local time
    assert await actions_of(workflow.db, incident_id) == ["created", "offered"]


async def test_general_request_gets_30_minutes(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """General help (shopping, repairs, company) is due 30 minutes after it was taken."""
    async with workflow.db.session() as s:
        elder = await s.get_one(Elder, district.e2)
        incident = await workflow.open_incident(
            s,
            now=clock(),
            category=Category.GENERAL,
            kind="request",
            summary="买药 buy medicine",
            elder=elder,
            device_id=None,
            lat=None,
            lon=None,
            actor="operator:api",
            notify_family=False,
        )
    assert incident.deadline == T0 + timedelta(minutes=30)
    assert incident.lat == pytest.approx(23.3550)  # the elder's home when no fix is given


async def test_accept_assigns_the_helper_and_tells_the_family(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """Accepting sets the helper on the way, with an ETA, and the family gets an SMS saying so."""
    incident_id = await open_sos(workflow, district, clock)
    clock.advance(timedelta(seconds=20))
    async with workflow.db.session() as s:
        await workflow.accept(s, incident_id, district.h1, clock(), "helper:1")
    incident = await incident_of(workflow.db, incident_id)
    assert incident.state == "assigned"
    assert incident.assigned_helper_id == district.h1
    assert incident.eta_at is not None and incident.eta_at < incident.deadline
    assert incident.sla_status == "on_track"
    family = [
        (p, b) for p, _, b in await outbox_of(workflow.db, incident_id) if p.startswith("family")
    ]
    assert [p for p, _ in family] == ["family_received"] * 2 + ["family_on_the_way"] * 2
    assert "黄少卿" in family[-1][1] and "已出发" in family[-1][1]


async def test_decline_moves_the_offer_to_the_next_helper(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """A decline frees that helper and offers the incident to the next best one at once."""
    incident_id = await open_sos(workflow, district, clock)
    async with workflow.db.session() as s:
        await workflow.decline(s, incident_id, district.h1, clock(), "helper:1")
    assert await offers_of(workflow.db, incident_id) == [
        (district.h1, "declined"),
        (district.h2, "pending"),
    ]
    async with workflow.db.session() as s:
        assert (await s.get_one(Helper, district.h1)).active_incident_id is None


async def test_unanswered_offer_expires_after_60_seconds_and_moves_on(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """The timer loop expires an emergency offer after 60 s and offers the next helper."""
    incident_id = await open_sos(workflow, district, clock)
    timers = TimerLoop(workflow.db, workflow, clock)
    clock.advance(timedelta(seconds=59))
    assert await timers.tick() == 0
    clock.advance(timedelta(seconds=1))
    assert await timers.tick() == 1
    assert await offers_of(workflow.db, incident_id) == [
        (district.h1, "expired"),
        (district.h2, "pending"),
    ]


async def test_accepting_someone_elses_offer_is_refused(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """Only the helper holding the pending offer can accept it."""
    incident_id = await open_sos(workflow, district, clock)
    async with workflow.db.session() as s:
        with pytest.raises(Conflict):
            await workflow.accept(s, incident_id, district.h2, clock(), "helper:2")


async def test_nobody_free_puts_the_incident_at_risk_and_retries(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """With every helper off duty the operators are alerted at once, and dispatch retries."""
    async with workflow.db.session() as s:
        for helper in (await s.execute(select(Helper))).scalars():
            helper.on_duty = False
    incident_id = await open_sos(workflow, district, clock)
    incident = await incident_of(workflow.db, incident_id)
    assert (incident.state, incident.sla_status, incident.sla_code) == (
        "open",
        "at_risk",
        "no_candidate",
    )
    assert incident.escalation_level == 1
    async with workflow.db.session() as s:
        (await s.get_one(Helper, district.h3)).on_duty = True
    clock.advance(timedelta(seconds=30))
    await TimerLoop(workflow.db, workflow, clock).tick()
    assert await offers_of(workflow.db, incident_id) == [(district.h3, "pending")]


async def test_missed_deadline_breaches_and_climbs_the_escalation_ladder(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """Past the deadline without arrival: breached, supervisor SMS, and 120 five minutes later."""
    incident_id = await open_sos(workflow, district, clock)
    async with workflow.db.session() as s:
        await workflow.accept(s, incident_id, district.h1, clock(), "helper:1")
    timers = TimerLoop(workflow.db, workflow, clock)
    clock.advance(timedelta(minutes=15, seconds=1))
    await timers.tick()
    incident = await incident_of(workflow.db, incident_id)
    assert (incident.sla_status, incident.escalation_level) == ("breached", 2)
    assert any(r == SUPERVISOR for _, r, _ in await outbox_of(workflow.db, incident_id))
    clock.advance(timedelta(minutes=5))
    await timers.tick()
    assert (await incident_of(workflow.db, incident_id)).escalation_level == 3


async def test_arrival_in_time_meets_the_promise_and_resolve_frees_the_helper(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """Arrival before the deadline is met; closing the case frees the helper for the next."""
    incident_id = await open_sos(workflow, district, clock)
    async with workflow.db.session() as s:
        await workflow.accept(s, incident_id, district.h1, clock(), "helper:1")
    clock.advance(timedelta(minutes=9))
    async with workflow.db.session() as s:
        await workflow.arrive(s, incident_id, district.h1, clock(), "helper:1")
    clock.advance(timedelta(minutes=20))
    await TimerLoop(workflow.db, workflow, clock).tick()  # the deadline timer must not breach it
    async with workflow.db.session() as s:
        await workflow.resolve(s, incident_id, district.h1, clock(), "helper:1", "送医 hospital")
    incident = await incident_of(workflow.db, incident_id)
    assert (incident.state, incident.sla_status) == ("resolved", "met")
    assert incident.arrived_at == T0 + timedelta(minutes=9)
    async with workflow.db.session() as s:
        assert (await s.get_one(Helper, district.h1)).active_incident_id is None


async def test_device_cancel_waits_for_an_operator_who_closes_it_as_false_alarm(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """A cancel from the device only flags the incident; the operator's confirmation closes it."""
    incident_id = await open_sos(workflow, district, clock)
    async with workflow.db.session() as s:
        incident = await s.get_one(Incident, incident_id)
        await workflow.device_cancelled(s, incident, clock(), "device:860000000000001")
    incident = await incident_of(workflow.db, incident_id)
    assert (incident.state, incident.cancel_requested) == ("offered", True)
    async with workflow.db.session() as s:
        await workflow.confirm_false_alarm(s, incident_id, clock(), "operator:王", "老人误按")
    incident = await incident_of(workflow.db, incident_id)
    assert (incident.state, incident.sla_status) == ("cancelled", "closed_unmeasured")
    assert await offers_of(workflow.db, incident_id) == [(district.h1, "withdrawn")]
    async with workflow.db.session() as s:
        assert (await s.get_one(Helper, district.h1)).active_incident_id is None


async def test_helper_moving_away_puts_the_incident_at_risk(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """An assigned helper whose reported position makes the ETA miss the deadline is at risk."""
    incident_id = await open_sos(workflow, district, clock)
    async with workflow.db.session() as s:
        await workflow.accept(s, incident_id, district.h1, clock(), "helper:1")
        helper = await s.get_one(Helper, district.h1)
        await workflow.update_helper_location(s, helper, 23.40, 116.70, clock())  # 3.3 km away
    incident = await incident_of(workflow.db, incident_id)
    assert (incident.sla_status, incident.sla_code) == ("at_risk", "eta_after_deadline")


class _BrokenOffers(Workflow):
    """A workflow whose offer-expiry handling trips a bug (the data one timer carries)."""

    async def fire(self, s: Any, timer: Any, now: datetime) -> None:
        if timer.kind == "offer_expiry":
            raise RuntimeError("injected: a bug this timer's data reaches")
        await super().fire(s, timer, now)


async def test_a_timer_that_fails_is_set_aside_and_the_other_clocks_keep_running(
    workflow: Workflow, district: District, clock: FakeClock
) -> None:
    """A timer whose handling raises is marked done with a timeline line; the loop goes on."""
    incident_id = await open_sos(workflow, district, clock)
    broken = _BrokenOffers(workflow.db, workflow.config)
    timers = TimerLoop(workflow.db, broken, clock)
    clock.advance(timedelta(minutes=6))  # the offer expiry (60 s) and the accept check (5 min)
    assert await timers.tick() >= 2  # the expiry, the accept check (and what they arm)
    assert timers.failed == 1
    assert await timers.tick() == 0  # set aside: not tried again on every tick
    async with workflow.db.session() as s:
        actions = (
            (
                await s.execute(
                    select(TimelineEntry.action).where(TimelineEntry.incident_id == incident_id)
                )
            )
            .scalars()
            .all()
        )
    assert "timer_failed" in actions
    assert "sla" in actions  # the accept check still fired: at risk, nobody accepted
