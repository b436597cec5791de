"""Fast mode decides as the server does: one event stream, the same decisions on both sides.

The stream below is played (a) through the simulator's ``MemoryApplier`` with its
``FreeHelpers`` candidates, and (b) through the real server's ``Workflow`` (devices' messages as
ingest hands them over, ``device_report``) and ``TimerLoop`` on a real database, on one clock;
each side's timers fire at their due times. Every decision the core
makes on each side is recorded and the two sequences must be equal, down to the offers, timers
and notices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol, TypeAlias
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from dispatcher.applier import Applier
from dispatcher.clock import FakeClock
from dispatcher.core import (
    Accept,
    ArmTimer,
    CreateOffer,
    Decision,
    Decline,
    DeviceReport,
    FalseAlarm,
    IncidentState,
    Notify,
    OfferView,
    ReportKind,
    Resolve,
)
from dispatcher.core import Arrive as ArriveEvent
from dispatcher.matching import HelperPosition, RankedHelper, TravelMode
from dispatcher.store import Session
from dispatcher.store.database import Database
from dispatcher.store.models import Elder, Helper, Incident, Timer
from dispatcher.timers import TimerLoop
from dispatcher.workflow import Workflow, WorkflowConfig
from simulator.applier import MemoryApplier
from simulator.candidates import FreeHelpers, eta_of
from simulator.policy import POLICIES
from sla import Category
from tests.dispatcher.district import T0, District, load

# ---- the stream: (seconds after T0, step); timers fire in between on each side --------------


@dataclass(frozen=True)
class Press:
    incident: str
    elder: str


@dataclass(frozen=True)
class Answer:
    incident: str
    helper: str
    yes: bool


@dataclass(frozen=True)
class Cancel:
    incident: str


@dataclass(frozen=True)
class Confirm:
    incident: str


@dataclass(frozen=True)
class Arrive:
    incident: str
    helper: str


@dataclass(frozen=True)
class Close:
    incident: str
    helper: str


Step: TypeAlias = Press | Answer | Cancel | Confirm | Arrive | Close

# H1 walks from 300 m north of E1 (ETA 7.2 min), H2 rides from 1.5 km east; H3 is off duty.
STREAM: tuple[tuple[float, Step], ...] = (
    (0, Press("A", "E1")),  # its dispatch timer fires at once: offered to H1
    (10, Press("B", "E2")),  # H1 is held by A: offered to H2
    (20, Press("A", "E1")),  # E1 presses again: the core joins it to A
    (45, Answer("B", "H2", yes=False)),  # nobody free for B: at risk, retry in 30 s
    # 60: A's offer to H1 expires; A goes to H2, who is free again
    # 75: B's retry finds H1, released by A's expiry
    (80, Answer("A", "H2", yes=True)),
    (100, Answer("B", "H1", yes=True)),
    (130, Cancel("B")),  # the watch cancels; nothing closes until an operator confirms
    (200, Confirm("B")),  # a false alarm after acceptance: H1 stood down
    (600, Arrive("A", "H2")),
    (1500, Close("A", "H2")),
)
END = T0 + timedelta(hours=1)  # every timer of both incidents has fired by then


class Side(Protocol):
    async def next_due(self) -> datetime | None: ...

    async def fire(self, due: datetime) -> None: ...

    async def step(self, step: Step, now: datetime) -> None: ...


async def play(side: Side) -> None:
    """Feed the stream, firing the side's due timers at their due times before each step."""
    for at_s, step in (*STREAM, (None, None)):
        at = END if at_s is None else T0 + timedelta(seconds=at_s)
        while (due := await side.next_due()) is not None and due <= at:
            await side.fire(due)
        if step is not None:
            await side.step(step, at)


# ---- (a) the simulator --------------------------------------------------------------------


@dataclass(frozen=True)
class Roll:
    """The district as both sides start it, read back from the database."""

    elders: dict[str, tuple[int, float, float, str]]  # ref -> id, lat, lon, device
    helpers: dict[str, int]  # ref -> id
    positions: dict[int, HelperPosition]
    on_duty: frozenset[int]
    pressed_by: dict[str, str]  # incident label -> the elder whose device pressed

    def report(self, step: Press | Cancel) -> DeviceReport:
        """The device's message as ingest hands it to the workflow (and fast mode to its core)."""
        elder = step.elder if isinstance(step, Press) else self.pressed_by[step.incident]
        elder_id, lat, lon, device = self.elders[elder]
        return DeviceReport(
            kind=ReportKind.PRESS if isinstance(step, Press) else ReportKind.CANCEL,
            device_id=device,
            elder_id=elder_id,
            summary=SUMMARY,
            lat=lat,
            lon=lon,
        )


class Roster:
    """The simulator's world for the stream: the district's helpers, who stay where they are."""

    def __init__(self, roll: Roll, config: WorkflowConfig) -> None:
        self.roll = roll
        self.free = FreeHelpers(
            POLICIES["nearest"],
            config.matching,
            latitude=23.37,
            emergency_window=config.sla.arrival[Category.EMERGENCY],
        )
        for helper_id in roll.on_duty:
            self.free.add(roll.positions[helper_id])

    def candidates(self, incident: IncidentState, now: datetime) -> Sequence[RankedHelper]:
        return self.free.candidates(incident, now)

    def reserved(self, helper_id: int, incident_id: int, now: datetime) -> None:
        self.free.remove(helper_id)

    def offered(self, incident: IncidentState, offer: OfferView, now: datetime) -> None:
        pass  # the stream says who answers, and when

    def released(self, helper_id: int, incident_id: int, now: datetime) -> None:
        if helper_id in self.roll.on_duty:
            self.free.add(self.roll.positions[helper_id])


class SimSide:
    def __init__(self, roll: Roll, config: WorkflowConfig) -> None:
        self.roll, self.config = roll, config
        self.decisions: list[Decision] = []
        self.core = MemoryApplier(config.core, Roster(roll, config), self.decisions.append)
        self.ids: dict[str, int] = {}

    async def next_due(self) -> datetime | None:
        return self.core.next_due()

    async def fire(self, due: datetime) -> None:
        self.core.fire_next(due)

    async def step(self, step: Step, now: datetime) -> None:
        if isinstance(step, Press | Cancel):
            state = self.core.device_report(self.roll.report(step), now)
            assert state is not None
            self.ids.setdefault(step.incident, state.id)
            return
        incident_id = self.ids[step.incident]
        if isinstance(step, Confirm):
            self.core.on(incident_id, FalseAlarm(actor=OPERATOR), now)
        else:
            helper_id = self.roll.helpers[step.helper]
            actor = f"helper:{helper_id}"
            if isinstance(step, Answer) and step.yes:
                state = self.core.incidents[incident_id]
                eta = eta_of(self.roll.positions[helper_id], state, now, self.config.matching)
                self.core.on(incident_id, Accept(helper_id=helper_id, eta=eta, actor=actor), now)
            elif isinstance(step, Answer):
                self.core.on(incident_id, Decline(helper_id=helper_id, actor=actor), now)
            elif isinstance(step, Arrive):
                self.core.on(incident_id, ArriveEvent(helper_id=helper_id, actor=actor), now)
            else:
                event = Resolve(helper_id=helper_id, outcome=OUTCOME, actor=actor)
                self.core.on(incident_id, event, now)


# ---- (b) the server -----------------------------------------------------------------------


class RecordingApplier(Applier):
    """The server's applier, keeping a copy of each decision it writes."""

    def __init__(self, inner: Applier, decisions: list[Decision]) -> None:
        super().__init__(inner.repo, inner.notices)
        self.decisions = decisions

    async def apply(
        self, s: Session, row: Incident | None, decision: Decision, now: datetime
    ) -> Incident:
        self.decisions.append(decision)
        return await super().apply(s, row, decision, now)


class ServerSide:
    def __init__(self, db: Database, roll: Roll, config: WorkflowConfig) -> None:
        self.db, self.roll = db, roll
        self.clock = FakeClock(T0)
        self.workflow = Workflow(db, config)
        self.decisions: list[Decision] = []
        self.workflow.applier = RecordingApplier(self.workflow.applier, self.decisions)
        self.timers = TimerLoop(db, self.workflow, self.clock)
        self.ids: dict[str, int] = {}

    async def next_due(self) -> datetime | None:
        async with self.db.session() as s:
            due = select(func.min(Timer.due_at)).where(Timer.fired_at.is_(None))
            return (await s.execute(due)).scalar()

    async def fire(self, due: datetime) -> None:
        self.clock.now = due
        await self.timers.tick()

    async def step(self, step: Step, now: datetime) -> None:
        self.clock.now = now
        wf = self.workflow
        async with self.db.session() as s:
            if isinstance(step, Press | Cancel):
                # What ingest hands over once the message is stored and acknowledged.
                incident = await wf.device_report(s, self.roll.report(step), now)
                assert incident is not None
                self.ids.setdefault(step.incident, incident.id)
                return
            incident_id = self.ids[step.incident]
            if isinstance(step, Confirm):
                await wf.confirm_false_alarm(s, incident_id, now, OPERATOR)
                return
            helper_id = self.roll.helpers[step.helper]
            actor = f"helper:{helper_id}"
            if isinstance(step, Answer) and step.yes:
                await wf.accept(s, incident_id, helper_id, now, actor)
            elif isinstance(step, Answer):
                await wf.decline(s, incident_id, helper_id, now, actor)
            elif isinstance(step, Arrive):
                await wf.arrive(s, incident_id, helper_id, now, actor)
            else:
                await wf.resolve(s, incident_id, helper_id, now, actor, OUTCOME)


# ---- the comparison -----------------------------------------------------------------------

SUMMARY = "SOS button pressed"
OUTCOME = "resolved"
OPERATOR = "operator:console"


async def roll_of(db: Database, district: District) -> Roll:
    async with db.session() as s:
        elders = {
            ref: await s.get_one(Elder, elder_id)
            for ref, elder_id in (("E1", district.e1), ("E2", district.e2))
        }
        devices = {"E1": "860000000000001", "E2": "860000000000002"}
        helpers = (await s.execute(select(Helper).order_by(Helper.id))).scalars().all()
        return Roll(
            elders={
                ref: (e.id, float(e.home_lat or 0), float(e.home_lon or 0), devices[ref])
                for ref, e in elders.items()
            },
            helpers={str(h.external_ref): h.id for h in helpers},
            positions={
                h.id: HelperPosition(
                    h.id,
                    float(h.lat or 0),
                    float(h.lon or 0),
                    TravelMode(h.travel_mode),
                    h.located_at or T0,
                )
                for h in helpers
            },
            on_duty=frozenset(h.id for h in helpers if h.on_duty),
            pressed_by={s.incident: s.elder for _, s in STREAM if isinstance(s, Press)},
        )


class Outline(NamedTuple):
    """A decision as the issue compares them."""

    state: str
    sla: str
    offered: list[int]
    timers: list[tuple[str, float, int | None]]  # kind, seconds after T0, ref
    notices: list[str]  # purposes


def outline(decisions: Sequence[Decision]) -> list[Outline]:
    return [
        Outline(
            d.incident.state.value,
            d.incident.sla_status.value,
            [e.helper_id for e in d.effects if isinstance(e, CreateOffer)],
            [
                (e.kind.value, (e.due_at - T0).total_seconds(), e.ref)
                for e in d.effects
                if isinstance(e, ArmTimer)
            ],
            [e.purpose.value for e in d.effects if isinstance(e, Notify)],
        )
        for d in decisions
    ]


@pytest.fixture
async def district(database: Database) -> District:
    return await load(database)


async def test_the_simulator_and_the_server_decide_one_stream_alike(
    database: Database, district: District
) -> None:
    """Fed one stream on one clock, the simulator's applier and the server's workflow get the
    same decisions from the core: states, offers, timers with due times, and notices."""
    config = WorkflowConfig(display_tz=ZoneInfo("Asia/Shanghai"))
    roll = await roll_of(database, district)
    sim, server = SimSide(roll, config), ServerSide(database, roll, config)
    await play(sim)
    await play(server)

    assert outline(sim.decisions) == outline(server.decisions)
    assert sim.decisions == server.decisions  # the whole decisions, records and facts too

    # The stream did what it says (so the comparison is not of two empty runs).
    h1, h2 = roll.helpers["H1"], roll.helpers["H2"]
    offered = [h for d in outline(sim.decisions) for h in d.offered]
    assert offered == [h1, h2, h2, h1]
    a, b = (sim.core.incidents[sim.ids[k]] for k in "AB")
    assert (a.state.value, a.assigned_helper_id, a.outcome) == ("resolved", h2, OUTCOME)
    assert (b.state.value, b.outcome, b.cancel_requested) == ("cancelled", "false alarm", True)
    purposes = [p for d in outline(sim.decisions) for p in d.notices]
    for purpose in (
        "helper_offer_expired",
        "family_on_the_way",
        "helper_stood_down",
        "family_false_alarm",
        "device_arrived",
        "family_closed",
    ):
        assert purpose in purposes
    kinds = {kind for d in outline(sim.decisions) for kind, _, _ in d.timers}
    assert {"retry_dispatch", "offer_expiry", "accept_check", "deadline"} <= kinds
    assert sim.core.held == {}
    assert sim.core.actions["repeat_press"] == 1
