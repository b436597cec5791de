"""Fast mode: the server's dispatch core in simulated time, in a simulated district.

Every incident rule is the server's: each change goes through ``dispatcher.core`` (``decide``:
states, offers and their expiry, the retry with nobody free, SLA assessment, escalation, who is
told what) via ``MemoryApplier``, which carries the decisions out in memory and fires the core's
own timers at their due times. No broker, no database, no wall clock, and no dispatch rule here.

This module is the world around the core, a discrete-event heap in simulated seconds: calls
arrive (a device's SOS or fall is a report the core routes, as ingest hands it over: it opens an
emergency matched just after the ack, or joins the elder's open one; general help is taken by an
operator and matched at once); helpers answer each offer after the request's drawn delay (yes
with their role's probability) unless the core's expiry comes first; after accepting, a helper
is on scene the matcher's ETA times the request's travel factor later (reporting a position
every minute on the way, which updates the server's ETA), stays the service time and is free
where the elder lives. A device's cancel (routed too) is followed by an operator's false-alarm
confirmation; withdrawn general help is closed by an operator the same way. Shifts start at the
helper's base; a shift ending mid-case ends after the case.

Candidates come from ``FreeHelpers`` (free, on-duty, not in the core's ``not_to_ask``), one at a
time as the server hands the core its claimed best; a policy chooses which. ``reoffer`` is an
operator's move the server allows: withdraw the travelling helper (``Withdraw``) and offer the
incident to the helper who just came free.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeAlias

from dispatcher.core import (
    SYSTEM,
    Accept,
    Arrive,
    CoreConfig,
    Decline,
    DeviceReport,
    Event,
    FalseAlarm,
    HelperMoved,
    IncidentState,
    NewIncident,
    OfferStatus,
    OfferView,
    Purpose,
    ReportKind,
    Resolve,
    Withdraw,
)
from dispatcher.matching import DEFAULT_POLICY as DEFAULT_MATCHING
from dispatcher.matching import HelperPosition, MatchingPolicy, RankedHelper, TravelMode, rank
from simulator.applier import MemoryApplier
from simulator.candidates import FreeHelpers, eta_of
from simulator.demand import MAX_ATTEMPTS, Request
from simulator.district import DAY_S, District
from simulator.policy import Policy
from sla import DEFAULT_POLICY as DEFAULT_SLA
from sla import Category, Level, SlaPolicy, State, is_terminal

__all__ = ["EPOCH", "HelperStats", "IncidentRecord", "RunResult", "simulate"]

# Day 0 starts at local midnight in Shantou (UTC+8), so hour-of-day figures read as local time.
EPOCH = datetime(2025, 7, 1, tzinfo=timezone(timedelta(hours=8)))
# A free helper's app reports every minute or so; fast mode does not simulate those reports, so
# positions are stamped "fresh" far in the future and the matcher's staleness filter never drops
# them. (A travelling helper's reports are simulated: REPORT_S.)
_FRESH = datetime(2100, 1, 1, tzinfo=UTC)
# Past the last call, open incidents get this long to finish before the run is cut off: the
# core's timers (its dispatch retry among them) stop firing then.
DRAIN_S = 6 * 3600.0
_OPERATOR = "operator:sim"

# A travelling helper's app reports a position this often; each report re-estimates the ETA
# (``HelperMoved``), which is how the server learns that a helper is running late.
REPORT_S = 60.0

_CALL, _ANSWER, _ARRIVE, _DONE, _CANCEL, _DEVICE_CANCEL, _CONFIRM, _ON, _OFF, _REPORT = range(10)


_Trip: TypeAlias = tuple[tuple[float, float], float, float]  # from (lat, lon), start s, arrival s


@dataclass(slots=True)
class IncidentRecord:
    """One request's incident, as the figures need it (times in simulated seconds)."""

    id: int
    emergency: bool
    kind: str
    lat: float
    lon: float
    created_s: float
    deadline_s: float
    state: State = State.OPEN
    helper: int | None = None
    offers: int = 0
    first_offer_s: float | None = None
    accepted_s: float | None = None
    arrived_s: float | None = None
    closed_s: float | None = None
    reoffers: int = 0
    escalation: Level = Level.NONE
    excluded: frozenset[int] = frozenset()  # the core's not_to_ask at the end
    # Internal: the number of the current trip; an arrival scheduled for an earlier one is stale.
    trip: int = 0

    @property
    def cancelled(self) -> bool:
        return self.state == State.CANCELLED


@dataclass(slots=True)
class HelperStats:
    index: int
    role: str
    mode: str
    lat: float
    lon: float
    duty_s: float = 0.0
    busy_s: float = 0.0
    assignments: int = 0
    on_duty: bool = False
    incident: int | None = None
    busy_from: float | None = None
    trip: _Trip | None = None  # the trip under way


@dataclass
class RunResult:
    policy: str
    days: float
    incidents: list[IncidentRecord]
    helpers: list[HelperStats]
    cpu_s: float
    # What the core told people, per purpose (one per Notify; the server's outbox has one row per
    # phone), and its timeline actions per code.
    notices: dict[str, int]
    actions: dict[str, int]
    # Presses that joined the elder's open incident (the core's routing) instead of opening one.
    joined: int = 0


class _Sim:
    def __init__(
        self,
        district: District,
        calls: list[Request],
        policy: Policy,
        days: float,
        config: CoreConfig,
        matching: MatchingPolicy,
    ) -> None:
        self.d, self.policy, self.config, self.matching = district, policy, config, matching
        self.end_s = days * DAY_S
        self.calls = {r.id: r for r in calls}
        self.queue: list[tuple[float, int, int, int, int]] = []
        self.seq = 0
        self.free = FreeHelpers(
            policy,
            matching,
            latitude=district.scenario.district.centre_lat,
            emergency_window=config.sla.arrival[Category.EMERGENCY],
        )
        self.core = MemoryApplier(config, self)
        self.rec: dict[int, IncidentRecord] = {}  # by the core's incident id
        self.request_of: dict[int, Request] = {}  # by the core's incident id
        self.answers: dict[int, tuple[int, int, bool]] = {}  # offer -> incident, helper, yes
        self.travelling: set[int] = set()  # emergencies whose helper is on the way
        self.joined = 0  # presses that joined an open incident instead of opening one
        dem = district.scenario.demand
        self.accept_p = {
            "social_worker": dem.accept_probability_worker,
            "volunteer": dem.accept_probability_volunteer,
        }
        self.h = [
            HelperStats(h.index, h.role, h.mode.value, h.lat, h.lon) for h in district.helpers
        ]
        for h in district.helpers:
            for start, stop in h.duty:
                if start < self.end_s and stop > 0:
                    start = max(start, 0.0)  # a shift already running when the run begins
                    self.h[h.index].duty_s += min(stop, self.end_s) - start
                    self._push(start, _ON, h.index)
                    self._push(stop, _OFF, h.index)
        for r in calls:
            self._push(r.t, _CALL, r.id)

    def _push(self, t: float, kind: int, a: int, b: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, kind, a, b))

    def at(self, t: float) -> datetime:
        return EPOCH + timedelta(seconds=t)

    def s(self, moment: datetime) -> float:
        return (moment - EPOCH).total_seconds()

    def run(self) -> None:
        cutoff = self.at(self.end_s + DRAIN_S)
        while True:
            due = self.core.next_due()
            if (
                due is not None
                and due <= cutoff
                and (not self.queue or due <= self.at(self.queue[0][0]))
            ):
                self.core.fire_next(due)  # the core's timers first when both are due
                continue
            if not self.queue:
                break
            t, _, kind, a, b = heapq.heappop(self.queue)
            if kind == _CALL:
                self._call(self.calls[a], t)
            elif kind == _ON:
                self._duty(a, t, on=True)
            elif kind == _OFF:
                self._duty(a, t, on=False)
            elif kind == _ANSWER:
                self._answer(a, t)
            elif kind == _DEVICE_CANCEL:
                self._device_cancel(self.calls[a], t)
            else:
                self._incident_event(kind, a, b, t)

    # ---- the core's world (simulator.applier.World) -------------------------------------

    def candidates(self, incident: IncidentState, now: datetime) -> list[RankedHelper]:
        return self.free.candidates(incident, now)

    def reserved(self, helper_id: int, incident_id: int, now: datetime) -> None:
        self.free.remove(helper_id)
        self.h[helper_id].incident = incident_id

    def offered(self, incident: IncidentState, offer: OfferView, now: datetime) -> None:
        t = self.s(now)
        rec, r = self.rec[incident.id], self.request_of[incident.id]
        rec.first_offer_s = t if rec.first_offer_s is None else rec.first_offer_s
        answer = r.answers[min(rec.offers, MAX_ATTEMPTS - 1)]
        rec.offers += 1
        if offer.expires_at is None or self.at(t + answer.delay_s) < offer.expires_at:
            yes = answer.u < self.accept_p[self.h[offer.helper_id].role]
            self.answers[offer.id] = (incident.id, offer.helper_id, yes)
            self._push(t + answer.delay_s, _ANSWER, offer.id)
        # Otherwise nobody answers and the core's expiry timer moves the offer on.

    def released(self, helper_id: int, incident_id: int, now: datetime) -> None:
        t = self.s(now)
        h = self.h[helper_id]
        h.incident = None
        if h.busy_from is not None:
            h.busy_s += t - h.busy_from
            h.busy_from = None
        if h.trip is not None:  # stood down on the way: released where they had got to
            h.lat, h.lon = self._along(h.trip, self.rec[incident_id], t)
            h.trip = None
            self.travelling.discard(incident_id)
        self._free(h, t)

    # ---- incidents -----------------------------------------------------------------------

    def _call(self, r: Request, t: float) -> None:
        elder = self.d.elders[r.elder]
        opens = self.core.next_incident_id
        if r.emergency:
            # A device's press: the core routes it, as ingest hands it over (join the elder's
            # open incident, or open one whose dispatch runs just after the ack).
            state = self.core.device_report(self._report(ReportKind.PRESS, r), self.at(t))
            assert state is not None
        else:
            # General help taken by an operator (the API): matched in the same transaction. The
            # record exists first, so that an offer made at once finds it.
            self._record(opens, r, t)
            new = NewIncident(
                category=Category.GENERAL,
                kind="request",
                summary=r.kind,
                elder_id=r.elder,
                device_id=None,
                lat=elder.lat,
                lon=elder.lon,
                actor="operator:api",
                notify_family=False,
                defer_dispatch=False,
            )
            state = self.core.open(new, self.at(t))
        if state.id != opens:
            self.joined += 1  # the press joined the elder's open incident
        elif r.emergency:
            self._record(opens, r, t)
        self.rec[state.id].deadline_s = self.s(state.deadline)
        if r.cancel_after_s is not None:
            kind = _DEVICE_CANCEL if r.emergency else _CANCEL
            self._push(t + r.cancel_after_s, kind, r.id if r.emergency else state.id)

    def _record(self, incident_id: int, r: Request, t: float) -> None:
        elder = self.d.elders[r.elder]
        rec = IncidentRecord(r.id, r.emergency, r.kind, elder.lat, elder.lon, t, 0.0)
        self.rec[incident_id] = rec
        self.request_of[incident_id] = r

    def _report(self, kind: ReportKind, r: Request) -> DeviceReport:
        elder = self.d.elders[r.elder]
        return DeviceReport(
            kind=kind,
            device_id=elder.device_id,
            elder_id=r.elder,
            incident_kind=r.kind,
            summary=r.kind,
            lat=elder.lat,
            lon=elder.lon,
        )

    def _answer(self, offer_id: int, t: float) -> None:
        incident_id, helper_id, yes = self.answers.pop(offer_id)
        state = self.core.incidents[incident_id]
        if not any(o.id == offer_id and o.status == OfferStatus.PENDING for o in state.offers):
            return  # withdrawn (the case closed) before the helper answered
        actor = f"helper:{helper_id}"
        if not yes:
            self.core.on(incident_id, Decline(helper_id=helper_id, actor=actor), self.at(t))
            return
        h, rec = self.h[helper_id], self.rec[incident_id]
        eta = eta_of(self._position(h), state, self.at(t), self.matching)
        self.core.on(incident_id, Accept(helper_id=helper_id, eta=eta, actor=actor), self.at(t))
        rec.accepted_s = t if rec.accepted_s is None else rec.accepted_s
        h.assignments += 1
        h.busy_from = t
        arrive_s = t + eta.total_seconds() * self.request_of[incident_id].travel_factor
        h.trip = ((h.lat, h.lon), t, arrive_s)
        rec.trip += 1
        self._push(arrive_s, _ARRIVE, incident_id, rec.trip)
        if t + REPORT_S < arrive_s:
            self._push(t + REPORT_S, _REPORT, incident_id, rec.trip)
        if rec.emergency:
            self.travelling.add(incident_id)

    def _device_cancel(self, r: Request, t: float) -> None:
        """The device cancels: the core routes it to the elder's open incident, which it only
        flags; an operator confirms the false alarm a little later."""
        state = self.core.device_report(self._report(ReportKind.CANCEL, r), self.at(t))
        if state is not None:
            self._push(t + r.confirm_after_s, _CONFIRM, state.id)

    def _incident_event(self, kind: int, incident_id: int, trip: int, t: float) -> None:
        state = self.core.incidents[incident_id]
        if is_terminal(state.state):
            return
        rec, helper_id = self.rec[incident_id], state.assigned_helper_id
        event: Event
        if kind == _REPORT:
            if trip != rec.trip or state.state != State.ASSIGNED or helper_id is None:
                return
            h = self.h[helper_id]
            assert h.trip is not None
            eta = eta_of(
                self._position(h, self._along(h.trip, rec, t)), state, self.at(t), self.matching
            )
            event = HelperMoved(helper_id=helper_id, eta=eta, actor=SYSTEM)
            if t + REPORT_S < h.trip[2]:
                self._push(t + REPORT_S, _REPORT, incident_id, trip)
        elif kind == _ARRIVE:
            if trip != rec.trip or state.state != State.ASSIGNED or helper_id is None:
                return  # the helper was stood down on the way
            h = self.h[helper_id]
            h.lat, h.lon, h.trip = rec.lat, rec.lon, None
            self.travelling.discard(incident_id)
            event = Arrive(helper_id=helper_id, actor=f"helper:{helper_id}")
            self._push(t + self.request_of[incident_id].service_s, _DONE, incident_id)
        elif kind == _DONE:
            if state.state != State.ON_SCENE:
                return
            event = Resolve(helper_id=helper_id, outcome="resolved", actor=f"helper:{helper_id}")
        elif kind == _CANCEL:  # general help withdrawn by the elder
            if state.state == State.ON_SCENE:
                return  # withdrawn only while still waiting
            event = FalseAlarm(actor=_OPERATOR, note="withdrawn by the elder")
        else:  # _CONFIRM
            event = FalseAlarm(actor=_OPERATOR)
        self.core.on(incident_id, event, self.at(t))

    # ---- helpers -------------------------------------------------------------------------

    def _position(self, h: HelperStats, where: tuple[float, float] | None = None) -> HelperPosition:
        lat, lon = where if where is not None else (h.lat, h.lon)
        return HelperPosition(h.index, lat, lon, TravelMode(h.mode), _FRESH)

    @staticmethod
    def _along(trip: _Trip, rec: IncidentRecord, t: float) -> tuple[float, float]:
        """Where a helper on ``trip`` to ``rec`` is at ``t``: along the straight line."""
        (lat0, lon0), start, end = trip
        f = min(max((t - start) / max(end - start, 1e-9), 0.0), 1.0)
        return lat0 + f * (rec.lat - lat0), lon0 + f * (rec.lon - lon0)

    def _free(self, h: HelperStats, t: float) -> None:
        if not h.on_duty or h.incident is not None:
            return
        self.free.add(self._position(h))
        if self.policy.reoffer:
            self._reoffer(h, t)

    def _duty(self, hid: int, t: float, *, on: bool) -> None:
        h = self.h[hid]
        h.on_duty = on
        if not on:
            self.free.remove(hid)
            return
        if h.incident is None:
            base = self.d.helpers[hid]
            h.lat, h.lon = base.lat, base.lon
            self._free(h, t)

    def _reoffer(self, h: HelperStats, t: float) -> None:
        """An operator's move: a helper just came free who would reach an emergency clearly
        sooner than the one promised; withdraw that helper and offer it to this one."""
        now = self.at(t)
        gain_s = self.policy.reoffer_gain.total_seconds()
        pos = self._position(h)
        best: tuple[float, int, RankedHelper] | None = None
        for incident_id in sorted(self.travelling):
            state = self.core.incidents[incident_id]
            if state.eta_at is None or h.index in state.not_to_ask:
                continue
            origin = (self.rec[incident_id].lat, self.rec[incident_id].lon)
            (ranked,) = rank(origin, [pos], now=now, deadline=state.deadline, policy=self.matching)
            gain = (state.eta_at - ranked.arrives_at).total_seconds()
            if gain >= gain_s and (best is None or gain > best[0]):
                best = (gain, incident_id, ranked)
        if best is None:
            return
        _, incident_id, ranked = best
        old = self.core.incidents[incident_id].assigned_helper_id
        assert old is not None
        self.rec[incident_id].reoffers += 1
        self.h[old].assignments -= 1  # the trip was cut short; it was not a completed case
        withdraw = Withdraw(reason="nearer_helper", actor=_OPERATOR)
        self.core.on(incident_id, withdraw, now, candidates=[ranked])

    def finish(self) -> list[IncidentRecord]:
        for incident_id, rec in self.rec.items():
            state = self.core.incidents[incident_id]
            rec.state, rec.helper = state.state, state.assigned_helper_id
            rec.escalation, rec.excluded = state.escalation_level, state.not_to_ask
            rec.arrived_s = self.s(state.arrived_at) if state.arrived_at else None
            rec.closed_s = self.s(state.closed_at) if state.closed_at else None
        return sorted(self.rec.values(), key=lambda i: i.id)


def simulate(
    district: District,
    calls: list[Request],
    policy: Policy,
    *,
    days: float,
    sla: SlaPolicy = DEFAULT_SLA,
    matching: MatchingPolicy = DEFAULT_MATCHING,
    config: CoreConfig | None = None,
) -> RunResult:
    """Run ``calls`` through ``district`` under ``policy``; a pure function of its arguments.

    ``config`` is the core's (the server's defaults: 30-s dispatch retry, default ladder);
    when given, its SLA policy is used and ``sla`` is ignored.
    """
    started = time.process_time()
    sim = _Sim(district, calls, policy, days, config or CoreConfig(sla=sla), matching)
    sim.run()
    incidents = sim.finish()
    return RunResult(
        policy.name,
        days,
        incidents,
        sim.h,
        time.process_time() - started,
        notices={p.value: sim.core.notices[p] for p in Purpose if sim.core.notices[p]},
        actions=dict(sorted(sim.core.actions.items())),
        joined=sim.joined,
    )
