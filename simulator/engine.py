"""Fast mode: a discrete-event simulation of the district through ``sla`` and the matcher.

No broker, no database, no wall clock: events (a call, an offer answered or expired, an arrival,
the end of a visit, a cancellation, a shift change) sit in a heap by simulated time. Each state
change goes through ``sla.transition``, so an event the real lifecycle forbids fails loudly here
too; deadlines and offer timeouts come from ``SlaPolicy``; candidates come from ``HelperGrid``
(free, on-duty helpers only) and the same ETA the server promises.

The model, in one paragraph: an offer is answered after the request's drawn delay (yes with the
helper's role's probability) unless that delay passes the offer timeout, which expires it; a
helper who declined or let it expire is not asked again for that incident. After accepting, the
helper is on scene the matcher's ETA later (setup plus detoured distance at mode speed) times
the request's travel factor, stays for the service time, and is free where the elder lives. With
nobody free the dispatch is retried every 30 s, like the server. Shifts start at the helper's
base; a shift ending mid-case ends after the case.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from dispatcher.matching import DEFAULT_POLICY as DEFAULT_MATCHING
from dispatcher.matching import HelperGrid, HelperPosition, MatchingPolicy, rank
from simulator.demand import MAX_ATTEMPTS, Request
from simulator.district import DAY_S, District
from simulator.policy import Policy, choose
from sla import DEFAULT_POLICY as DEFAULT_SLA
from sla import Category, Event, SlaPolicy, State, is_terminal, transition

__all__ = ["EPOCH", "HelperStats", "IncidentRecord", "RunResult", "simulate"]

# Day 0 starts at local midnight in Shantou (UTC+8), so hour-of-day figures read as local time.
EPOCH = datetime(2025, 7, 1, tzinfo=timezone(timedelta(hours=8)))
# Helper apps report every minute or so; fast mode does not simulate each report, so positions
# are stamped "fresh" far in the future and the matcher's staleness filter never drops them.
_FRESH = datetime(2100, 1, 1, tzinfo=UTC)
RETRY_S = 30.0
# Past the last call, open incidents get this long to finish before the run is cut off.
DRAIN_S = 6 * 3600.0

_CALL, _ACCEPT, _DECLINE, _EXPIRE, _ARRIVE, _DONE, _CANCEL, _CONFIRM, _RETRY, _ON, _OFF = range(11)


@dataclass(slots=True)
class IncidentRecord:
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
    # Internal: a token that stale events no longer match, and the current trip.
    token: int = 0
    offer_eta_s: float = 0.0
    eta_s: float = 0.0
    trip_from: tuple[float, float] = (0.0, 0.0)
    trip_start_s: float = 0.0
    excluded: set[int] = field(default_factory=set)

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


@dataclass
class RunResult:
    policy: str
    days: float
    incidents: list[IncidentRecord]
    helpers: list[HelperStats]
    cpu_s: float


class _Sim:
    def __init__(
        self,
        district: District,
        calls: list[Request],
        policy: Policy,
        days: float,
        sla: SlaPolicy,
        matching: MatchingPolicy,
    ) -> None:
        self.d, self.policy, self.sla, self.matching = district, policy, sla, matching
        self.end_s = days * DAY_S
        self.calls = {r.id: r for r in calls}
        self.queue: list[tuple[float, int, int, int, int]] = []
        self.seq = 0
        # A few dozen helpers on duty per 100 km²: 2 km cells keep the rings few (the grid's 500 m
        # default suits 100 helpers per km²).
        self.grid = HelperGrid(2_000.0, latitude=district.scenario.district.centre_lat)
        self.inc: dict[int, IncidentRecord] = {}
        self.travelling: set[int] = set()
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

    def _push(self, t: float, kind: int, a: int, token: int = 0) -> None:
        # Events carry the incident's token when scheduled: once the incident moves on (a new
        # offer, a cancellation), the old events no longer match and are dropped unheard.
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, kind, a, token))

    def at(self, t: float) -> datetime:
        return EPOCH + timedelta(seconds=t)

    def run(self) -> None:
        handlers = {
            _ACCEPT: self._accept,
            _DECLINE: self._refused,
            _EXPIRE: self._refused,
            _ARRIVE: self._arrive,
            _DONE: self._done,
            _RETRY: self._retry,
        }
        while self.queue:
            t, _, kind, a, b = heapq.heappop(self.queue)
            if kind == _CALL:
                self._call(self.calls[a], t)
            elif kind == _ON:
                self._duty(a, t, on=True)
            elif kind == _OFF:
                self._duty(a, t, on=False)
            elif kind == _CANCEL:
                self._cancel(self.inc[a], t)
            elif kind == _CONFIRM:
                if not is_terminal(self.inc[a].state):
                    self._confirm(self.inc[a], t, kind)
            else:
                i = self.inc[a]
                if b == i.token and not is_terminal(i.state):
                    handlers[kind](i, t, kind)

    # ---- incidents -----------------------------------------------------------------------

    def _call(self, r: Request, t: float) -> None:
        elder = self.d.elders[r.elder]
        cat = Category.EMERGENCY if r.emergency else Category.GENERAL
        deadline = t + self.sla.arrival[cat].total_seconds()
        i = IncidentRecord(r.id, r.emergency, r.kind, elder.lat, elder.lon, t, deadline)
        self.inc[r.id] = i
        if r.cancel_after_s is not None:
            self._push(t + r.cancel_after_s, _CANCEL, r.id)
        self._dispatch(i, t)

    def _retry(self, i: IncidentRecord, t: float, _kind: int) -> None:
        if i.state == State.OPEN:
            self._dispatch(i, t)

    def _dispatch(self, i: IncidentRecord, t: float) -> None:
        now, deadline = self.at(t), self.at(i.deadline_s)
        ranked = (
            self.grid.nearest(
                (i.lat, i.lon), now=now, deadline=deadline, policy=self.matching, exclude=i.excluded
            )
            if len(self.grid)
            else []
        )
        best = choose(
            self.policy,
            ranked,
            emergency=i.emergency,
            deadline=deadline,
            backups=lambda hid: self._backups(hid, now),
        )
        if best is None:
            if t < self.end_s + DRAIN_S:
                self._push(t + RETRY_S, _RETRY, i.id, token=i.token)
            return
        self._offer(i, best.helper_id, best.eta.total_seconds(), t)

    def _backups(self, helper_id: int, now: datetime) -> int:
        h = self.h[helper_id]
        window = self.sla.arrival[Category.EMERGENCY]
        near = self.grid.nearest(
            (h.lat, h.lon),
            now=now,
            deadline=now + window,
            policy=self.matching,
            exclude=(helper_id,),
            k=self.policy.backups_wanted,
        )
        return sum(r.can_make_deadline for r in near)

    def _offer(self, i: IncidentRecord, hid: int, eta_s: float, t: float) -> None:
        h, r = self.h[hid], self.calls[i.id]
        self.grid.remove(hid)
        h.incident = i.id
        i.state = transition(i.state, Event.OFFER)
        i.helper, i.offer_eta_s = hid, eta_s
        i.token += 1
        i.first_offer_s = t if i.first_offer_s is None else i.first_offer_s
        answer = r.answers[min(i.offers, MAX_ATTEMPTS - 1)]
        i.offers += 1
        timeout = self.sla.offer_timeout[Category.EMERGENCY if i.emergency else Category.GENERAL]
        if answer.delay_s < timeout.total_seconds():
            kind = _ACCEPT if answer.u < self.accept_p[h.role] else _DECLINE
            self._push(t + answer.delay_s, kind, i.id, token=i.token)
        else:
            self._push(t + timeout.total_seconds(), _EXPIRE, i.id, token=i.token)

    def _accept(self, i: IncidentRecord, t: float, _kind: int) -> None:
        assert i.helper is not None
        h = self.h[i.helper]
        i.state = transition(i.state, Event.ACCEPT)
        i.accepted_s = t if i.accepted_s is None else i.accepted_s
        h.assignments += 1
        h.busy_from = t
        i.trip_from, i.trip_start_s = (h.lat, h.lon), t
        i.eta_s = t + i.offer_eta_s * self.calls[i.id].travel_factor
        self._push(i.eta_s, _ARRIVE, i.id, token=i.token)
        if i.emergency:
            self.travelling.add(i.id)

    def _refused(self, i: IncidentRecord, t: float, kind: int) -> None:
        assert i.helper is not None
        hid = i.helper
        i.state = transition(i.state, Event.DECLINE if kind == _DECLINE else Event.OFFER_EXPIRED)
        i.excluded.add(hid)
        i.helper = None
        i.token += 1
        self._release(hid, t)
        self._dispatch(i, t)

    def _arrive(self, i: IncidentRecord, t: float, _kind: int) -> None:
        assert i.helper is not None
        i.state = transition(i.state, Event.ARRIVE)
        i.arrived_s = t
        self.travelling.discard(i.id)
        h = self.h[i.helper]
        h.lat, h.lon = i.lat, i.lon
        self._push(t + self.calls[i.id].service_s, _DONE, i.id, token=i.token)

    def _done(self, i: IncidentRecord, t: float, _kind: int) -> None:
        assert i.helper is not None
        i.state = transition(i.state, Event.RESOLVE)
        i.closed_s = t
        self._release(i.helper, t)

    def _cancel(self, i: IncidentRecord, t: float) -> None:
        if is_terminal(i.state):
            return
        if i.emergency:
            # The device's cancel only flags the incident; an operator confirms a little later.
            i.state = transition(i.state, Event.DEVICE_CANCEL)
            self._push(t + self.calls[i.id].confirm_after_s, _CONFIRM, i.id)
        elif i.state != State.ON_SCENE:  # withdrawn only while still waiting
            self._confirm(i, t, _CONFIRM)

    def _confirm(self, i: IncidentRecord, t: float, _kind: int) -> None:
        i.state = transition(i.state, Event.CONFIRM_FALSE_ALARM)
        i.closed_s = t
        i.token += 1
        self.travelling.discard(i.id)
        if i.helper is not None:
            self._release(i.helper, t, self._where(i, t))

    # ---- helpers -------------------------------------------------------------------------

    def _where(self, i: IncidentRecord, t: float) -> tuple[float, float]:
        """Where the helper of ``i`` is at ``t``: along the straight line of the trip."""
        if i.accepted_s is None or i.state == State.OFFERED:
            h = self.h[i.helper] if i.helper is not None else None
            return (h.lat, h.lon) if h else (i.lat, i.lon)
        span = max(i.eta_s - i.trip_start_s, 1e-9)
        f = min(max((t - i.trip_start_s) / span, 0.0), 1.0)
        (lat0, lon0) = i.trip_from
        return lat0 + f * (i.lat - lat0), lon0 + f * (i.lon - lon0)

    def _release(self, hid: int, t: float, where: tuple[float, float] | None = None) -> None:
        h = self.h[hid]
        h.incident = None
        if h.busy_from is not None:
            h.busy_s += t - h.busy_from
            h.busy_from = None
        if where is not None:
            h.lat, h.lon = where
        self._free(h, t)

    def _free(self, h: HelperStats, t: float) -> None:
        if not h.on_duty or h.incident is not None:
            return
        self.grid.upsert(HelperPosition(h.index, h.lat, h.lon, _MODE[h.mode], _FRESH))
        if self.policy.reoffer:
            self._reoffer(h, t)

    def _duty(self, hid: int, t: float, *, on: bool) -> None:
        h = self.h[hid]
        h.on_duty = on
        if not on:
            self.grid.remove(hid)
            return
        if h.incident is None:
            base = self.d.helpers[hid]
            h.lat, h.lon = base.lat, base.lon
            self._free(h, t)

    def _reoffer(self, h: HelperStats, t: float) -> None:
        now = self.at(t)
        gain_s = self.policy.reoffer_gain.total_seconds()
        best: tuple[float, IncidentRecord, float] | None = None
        pos = HelperPosition(h.index, h.lat, h.lon, _MODE[h.mode], _FRESH)
        for iid in sorted(self.travelling):
            i = self.inc[iid]
            if h.index in i.excluded:
                continue
            (r,) = rank((i.lat, i.lon), [pos], now=now, deadline=now, policy=self.matching)
            gain = i.eta_s - (t + r.eta.total_seconds())
            if gain >= gain_s and (best is None or gain > best[0]):
                best = (gain, i, r.eta.total_seconds())
        if best is None:
            return
        _, i, eta_s = best
        old = i.helper
        assert old is not None
        i.state = transition(i.state, Event.REASSIGN)
        i.reoffers += 1
        i.token += 1
        self.travelling.discard(i.id)
        self.h[old].assignments -= 1  # the trip was cut short; it was not a completed case
        where = self._where(i, t)
        i.helper = None
        self._offer(i, h.index, eta_s, t)
        self._release(old, t, where)


_MODE = {m.value: m for m in DEFAULT_MATCHING.speeds_kmh}


def simulate(
    district: District,
    calls: list[Request],
    policy: Policy,
    *,
    days: float,
    sla: SlaPolicy = DEFAULT_SLA,
    matching: MatchingPolicy = DEFAULT_MATCHING,
) -> RunResult:
    """Run ``calls`` through ``district`` under ``policy``; a pure function of its arguments."""
    started = time.process_time()
    sim = _Sim(district, calls, policy, days, sla, matching)
    sim.run()
    incidents = sorted(sim.inc.values(), key=lambda i: i.id)
    return RunResult(policy.name, days, incidents, sim.h, time.process_time() - started)
