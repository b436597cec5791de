"""Who should go: rank on-duty helpers by estimated arrival time at an incident.

Pure: no I/O and no clock; ``now`` and the deadline come in as arguments.

ETA = ``setup_time`` + geodesic distance (WGS-84) x ``detour_factor`` / travel-mode speed.

The exact geodesic costs tens of microseconds, so both entry points prefilter with a cheap key,
the straight-line travel time on the local tangent plane (``_Frame``), and run the geodesic only
on the ``geodesic_k`` best by that key. At Shantou's latitude the plane is within 0.01 % of the
geodesic at 5 km and 0.03 % at 20 km (0.1 % at 60° N), so it can only swap helpers whose
arrivals differ by a second or so; the key stays well below the ETA, which adds the detour and
the setup time.

How the server finds candidates without scanning every helper:

1. SQL box ``bounding_box(origin, search_radius_m(deadline - now, policy))``, then ``rank``.
2. If the box is empty, or ``decide`` escalates because the best cannot make the deadline, query
   ``bounding_box(origin, search_radius_m(best.eta, policy))`` (anywhere when there is no best)
   and ``rank`` again: nobody outside that box could arrive sooner than ``best``.

``HelperGrid`` does the same search in memory for large rosters (simulator, benchmark), and its
answer equals ``rank`` over the whole roster.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

# Called directly rather than through geopy's `geodesic(a, b)`, which builds a new Geodesic
# object on every call (about half its 70 us cost); Geodesic.WGS84 is the very ellipsoid geopy
# uses, built once at import (geopy depends on geographiclib; the tests check the two agree).
from geographiclib.geodesic import (
    Geodesic,
)

__all__ = [
    "DEFAULT_POLICY",
    "Decision",
    "HelperGrid",
    "HelperPosition",
    "MatchingPolicy",
    "RankedHelper",
    "TravelMode",
    "bounding_box",
    "decide",
    "estimate_eta",
    "rank",
    "search_radius_m",
]

_WGS84_A = 6_378_137.0
_WGS84_F = 1 / 298.257223563
_WGS84_E2 = _WGS84_F * (2 - _WGS84_F)
# The smallest meridional radius of curvature (at the equator): a degree of latitude is never
# shorter than this, which makes the bounding box safe everywhere.
_MERIDIAN_MIN = _WGS84_A * (1 - _WGS84_E2)
# Cell and box edges are computed in floating point; this margin (about 0.1 mm) keeps a helper
# who sits exactly on an edge, or at the incident itself, from being cut off by a rounding error.
_EDGE_EPS_DEG = 1e-9


class TravelMode(StrEnum):
    WALK = "walk"
    EBIKE = "ebike"
    CAR = "car"


def _default_speeds() -> Mapping[TravelMode, float]:
    return {
        # An older volunteer's pace including crossings and waits at lights (brisk adult: 5).
        TravelMode.WALK: 4.5,
        # GB 17761-2018 caps e-bikes at 25 km/h; with signals and crowded lanes 15 is typical.
        TravelMode.EBIKE: 15.0,
        # Average urban driving speed in Chinese cities, lowered for fetching the car, parking
        # and walking to the door, which a bike or a walker does not need.
        TravelMode.CAR: 22.0,
    }


@dataclass(frozen=True)
class MatchingPolicy:
    speeds_kmh: Mapping[TravelMode, float] = field(default_factory=_default_speeds, hash=False)
    # Streets are longer than the straight line; 1.2-1.4 is the usual urban circuity.
    detour_factor: float = 1.3
    location_max_age: timedelta = timedelta(minutes=15)
    geodesic_k: int = 8
    # Reading the offer, accepting it, leaving what they are doing and getting downstairs: without
    # it a helper standing at the door would be promised an arrival in zero minutes.
    setup_time: timedelta = timedelta(minutes=2)
    # The smallest SQL search radius, just under a car's reach in an emergency's 15 minutes
    # (3.7 km): a re-dispatch late in the window, or past it, still searches a useful area
    # instead of an empty box that sends the server scanning every helper; see search_radius_m.
    min_search_radius_m: float = 3_000.0

    def __post_init__(self) -> None:
        speeds = dict(self.speeds_kmh)
        if set(speeds) != set(TravelMode):
            raise ValueError(f"speeds_kmh needs exactly the modes {[m.value for m in TravelMode]}")
        if not all(math.isfinite(v) and v > 0 for v in speeds.values()):
            raise ValueError("every speed must be positive and finite")
        if not (math.isfinite(self.detour_factor) and self.detour_factor >= 1):
            raise ValueError("detour_factor must be at least 1")
        if self.location_max_age <= timedelta(0) or self.setup_time < timedelta(0):
            raise ValueError("location_max_age must be positive and setup_time not negative")
        if self.geodesic_k < 1 or not self.min_search_radius_m >= 0:
            raise ValueError("geodesic_k must be at least 1 and min_search_radius_m not negative")
        # A frozen policy must not change under a ranking because the caller kept the dict. A
        # plain dict (not a MappingProxyType) so that the policy still pickles and deep-copies.
        object.__setattr__(self, "speeds_kmh", speeds)

    def speed_ms(self, mode: TravelMode) -> float:
        return self.speeds_kmh[mode] / 3.6

    @property
    def fastest_ms(self) -> float:
        return max(self.speeds_kmh.values()) / 3.6


DEFAULT_POLICY = MatchingPolicy()


@dataclass(frozen=True, slots=True)
class HelperPosition:
    helper_id: int
    lat: float
    lon: float
    travel_mode: TravelMode
    located_at: datetime

    def __post_init__(self) -> None:
        # Also rejects NaN, which would otherwise land in a grid cell and poison every sort.
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise ValueError(f"helper {self.helper_id}: no such position {self.lat}, {self.lon}")


@dataclass(frozen=True, slots=True)
class RankedHelper:
    helper_id: int
    distance_m: float
    eta: timedelta
    arrives_at: datetime
    can_make_deadline: bool
    # Kept so decide() can say which deadline was missed; optional for callers building their own.
    deadline: datetime | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class Decision:
    best: RankedHelper | None
    escalate: bool
    reason: str | None


def estimate_eta(distance_m: float, mode: TravelMode, policy: MatchingPolicy) -> timedelta:
    """Time to be on scene for a helper ``distance_m`` away (geodesic) travelling by ``mode``."""
    travel_s = distance_m * policy.detour_factor / policy.speed_ms(mode)
    return policy.setup_time + timedelta(seconds=travel_s)


def search_radius_m(within: timedelta, policy: MatchingPolicy = DEFAULT_POLICY) -> float:
    """Geodesic radius beyond which no helper, even the fastest, can arrive ``within`` this time.

    Pass ``deadline - now`` for the first query. The minimum radius keeps that query useful when
    the deadline is close or past; pass the best ETA found for the exact second query.
    """
    travel_s = (within - policy.setup_time).total_seconds()
    reach_m = max(travel_s, 0.0) * policy.fastest_ms / policy.detour_factor
    return max(reach_m, policy.min_search_radius_m)


def bounding_box(origin: tuple[float, float], radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, min_lon, max_lat, max_lon) holding every point within ``radius_m`` of ``origin``.

    Conservative: a box that would reach a pole or cross the antimeridian spans all longitudes,
    because SQL ``BETWEEN`` cannot express a wrapped range.
    """
    if not radius_m >= 0:
        raise ValueError("radius_m must not be negative")
    lat, lon = origin
    dlat = math.degrees(radius_m / _MERIDIAN_MIN) + _EDGE_EPS_DEG
    min_lat, max_lat = max(lat - dlat, -90.0), min(lat + dlat, 90.0)
    # Any path of that length stays inside [min_lat, max_lat], where a degree of longitude is at
    # least a * cos(lat) long (the prime-vertical radius N is never below a).
    cos_edge = math.cos(math.radians(max(abs(min_lat), abs(max_lat))))
    if cos_edge <= 0 or radius_m >= math.pi * _WGS84_A * cos_edge:
        return min_lat, -180.0, max_lat, 180.0
    dlon = math.degrees(radius_m / (_WGS84_A * cos_edge)) + _EDGE_EPS_DEG
    if lon - dlon < -180 or lon + dlon > 180:
        return min_lat, -180.0, max_lat, 180.0
    return min_lat, lon - dlon, max_lat, lon + dlon


class _Frame:
    """The local tangent plane at an origin: metres per degree of latitude and longitude there.

    Distances are exact in this plane (not on the ellipsoid), which is what lets HelperGrid bound
    everything outside a box of cells by the distance to the box's nearest edge.
    """

    __slots__ = ("fastest_ms", "lat0", "lon0", "m_per_deg_lat", "m_per_deg_lon", "speed_ms")

    def __init__(self, origin: tuple[float, float], policy: MatchingPolicy) -> None:
        self.lat0, self.lon0 = origin
        if not (-90 <= self.lat0 <= 90 and -180 <= self.lon0 <= 180):
            raise ValueError(f"no such position {self.lat0}, {self.lon0}")
        phi = math.radians(self.lat0)
        w = math.sqrt(1 - _WGS84_E2 * math.sin(phi) ** 2)
        self.m_per_deg_lat = math.radians(_WGS84_A * (1 - _WGS84_E2) / w**3)
        self.m_per_deg_lon = math.radians(_WGS84_A / w * math.cos(phi))
        self.speed_ms = {mode: policy.speed_ms(mode) for mode in TravelMode}
        self.fastest_ms = policy.fastest_ms

    def key_s(self, pos: HelperPosition) -> float:
        """Straight-line travel time: the prefilter's lower bound of the ETA."""
        dlon = (pos.lon - self.lon0 + 180.0) % 360.0 - 180.0
        dist = math.hypot((pos.lat - self.lat0) * self.m_per_deg_lat, dlon * self.m_per_deg_lon)
        return dist / self.speed_ms[pos.travel_mode]


def _finish(
    origin: tuple[float, float],
    chosen: Iterable[HelperPosition],
    now: datetime,
    deadline: datetime,
    policy: MatchingPolicy,
) -> list[RankedHelper]:
    lat0, lon0 = origin
    ranked = []
    for pos in chosen:
        distance_m = Geodesic.WGS84.Inverse(lat0, lon0, pos.lat, pos.lon, Geodesic.DISTANCE)["s12"]
        eta = estimate_eta(distance_m, pos.travel_mode, policy)
        arrives_at = now + eta
        ranked.append(
            RankedHelper(
                pos.helper_id,
                distance_m,
                eta,
                arrives_at,
                arrives_at <= deadline,
                deadline=deadline,
            )
        )
    ranked.sort(key=_order)
    return ranked


def _order(helper: RankedHelper) -> tuple[timedelta, int]:
    return helper.eta, helper.helper_id


def _usable(
    helpers: Iterable[HelperPosition],
    now: datetime,
    policy: MatchingPolicy,
    exclude: Collection[int],
) -> Iterator[HelperPosition]:
    cutoff = now - policy.location_max_age
    excluded = frozenset(exclude)
    return (p for p in helpers if p.located_at >= cutoff and p.helper_id not in excluded)


def rank(
    origin: tuple[float, float],
    helpers: Iterable[HelperPosition],
    *,
    now: datetime,
    deadline: datetime,
    policy: MatchingPolicy = DEFAULT_POLICY,
    exclude: Collection[int] = (),
) -> list[RankedHelper]:
    """The ``geodesic_k`` best helpers for an incident at ``origin`` (lat, lon), soonest first.

    Skips locations older than ``location_max_age`` at ``now`` and the ``exclude``d ids (helpers
    who declined or let the offer expire). Ties go to the lower helper_id, so replays agree.
    Expects one position per helper.
    """
    frame = _Frame(origin, policy)
    keyed = ((frame.key_s(p), p.helper_id, p) for p in _usable(helpers, now, policy, exclude))
    best = heapq.nsmallest(policy.geodesic_k, keyed, key=lambda t: (t[0], t[1]))
    return _finish(origin, (p for _, _, p in best), now, deadline, policy)


def decide(ranked: Sequence[RankedHelper]) -> Decision:
    """Offer to the soonest helper; escalate at once when there is none or they will be late."""
    if not ranked:
        return Decision(best=None, escalate=True, reason="no helper available")
    best = min(ranked, key=_order)
    if best.can_make_deadline:
        return Decision(best=best, escalate=False, reason=None)
    # Rounding the arrival up and the deadline down keeps a late arrival from reading as on time
    # when both fall in the same minute.
    if best.deadline is None:
        arrival = _ceil_minute(best.arrives_at)
        return Decision(
            best, escalate=True, reason=f"best ETA {arrival:%H:%M} is after the deadline"
        )
    arrival = best.arrives_at
    if arrival.tzinfo is not None and best.deadline.tzinfo is not None:
        # Operators read both times on the deadline's clock, whatever zone `now` came in.
        arrival = arrival.astimezone(best.deadline.tzinfo)
    arrival = _ceil_minute(arrival)
    reason = f"best ETA {arrival:%H:%M} is after the deadline {best.deadline:%H:%M}"
    return Decision(best=best, escalate=True, reason=reason)


def _ceil_minute(moment: datetime) -> datetime:
    floor = moment.replace(second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(minutes=1)


class HelperGrid:
    """An in-memory spatial index of helper positions for rosters too large to rank whole.

    A uniform lat/lon grid: cells are ``cell_size_m`` tall and, at ``latitude`` (give the
    district's), as wide; columns wrap at the antimeridian. ``nearest`` returns exactly what
    ``rank`` over every helper in the grid would. The default 500 m suits ~100 helpers per km²
    (see bench/matching.py); much sparser rosters want larger cells.
    """

    def __init__(self, cell_size_m: float = 500.0, *, latitude: float = 0.0) -> None:
        if not (cell_size_m > 0 and abs(latitude) < 90):
            raise ValueError("cell_size_m must be positive and latitude off the poles")
        frame = _Frame((latitude, 0.0), DEFAULT_POLICY)
        # Whole numbers of cells per 180° and 360° so that the last column meets the first.
        self._rows = max(1, round(180 * frame.m_per_deg_lat / cell_size_m))
        self._cols = max(1, round(360 * frame.m_per_deg_lon / cell_size_m))
        self._cell_lat = 180 / self._rows
        self._cell_lon = 360 / self._cols
        self._cells: dict[tuple[int, int], dict[int, HelperPosition]] = {}
        self._where: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, helper_id: object) -> bool:
        return helper_id in self._where

    def upsert(self, pos: HelperPosition) -> None:
        """Add a helper or replace their position (moving them between cells if needed)."""
        cell = self._cell(pos.lat, pos.lon)
        if self._where.get(pos.helper_id, cell) != cell:
            self.remove(pos.helper_id)
        self._cells.setdefault(cell, {})[pos.helper_id] = pos
        self._where[pos.helper_id] = cell

    def remove(self, helper_id: int) -> None:
        """Forget a helper (off duty, busy); unknown ids are ignored."""
        cell = self._where.pop(helper_id, None)
        if cell is None:
            return
        members = self._cells[cell]
        del members[helper_id]
        if not members:
            # Empty cells would make the brute-force fallback below look costlier than it is.
            del self._cells[cell]

    def nearest(
        self,
        origin: tuple[float, float],
        *,
        now: datetime,
        deadline: datetime,
        policy: MatchingPolicy = DEFAULT_POLICY,
        exclude: Collection[int] = (),
        k: int | None = None,
    ) -> list[RankedHelper]:
        """``rank(origin, <every helper>, ...)`` with ``geodesic_k`` = ``k``, visiting few cells.

        Searches rings of cells outwards and stops once nothing outside the rings seen so far
        could have a lower straight-line travel time than the k-th best found.
        """
        k = policy.geodesic_k if k is None else k
        if k < 1:
            raise ValueError("k must be at least 1")
        frame = _Frame(origin, policy)
        cutoff = now - policy.location_max_age
        excluded = frozenset(exclude)
        # The k best so far as a max-heap on (key, helper_id): the root is the one to beat.
        best: list[tuple[float, int, HelperPosition]] = []

        key_s = frame.key_s

        def visit(members: dict[int, HelperPosition]) -> None:
            for pos in members.values():
                if pos.located_at < cutoff or pos.helper_id in excluded:
                    continue
                entry = (-key_s(pos), -pos.helper_id, pos)
                if len(best) < k:
                    heapq.heappush(best, entry)
                elif entry[:2] > best[0][:2]:
                    heapq.heapreplace(best, entry)

        lat0, lon0 = origin
        lon0 = (lon0 + 180.0) % 360.0 - 180.0
        i0, j0 = self._cell(lat0, lon0)
        ring = 0
        while True:
            # Rings grow by 8 cells each; past the number of occupied cells it is cheaper to look
            # at every remaining one, which also ends the search for a far-away lone helper.
            if 8 * ring > len(self._cells) or 2 * ring + 1 > self._cols:
                for (i, j), members in self._cells.items():
                    dj = abs(j - j0)
                    if max(abs(i - i0), min(dj, self._cols - dj)) >= ring:
                        visit(members)
                break
            for cell in self._ring(i0, j0, ring):
                found = self._cells.get(cell)
                if found is not None:
                    visit(found)
            bound_s = self._outside_m(frame, lat0, lon0, i0, j0, ring) / frame.fastest_ms
            if bound_s == math.inf or (len(best) == k and bound_s > -best[0][0]):
                break
            ring += 1
        return _finish(origin, (pos for _, _, pos in best), now, deadline, policy)

    def _cell(self, lat: float, lon: float) -> tuple[int, int]:
        # min() because lat = 90 and the float error at lon = 180 would fall one cell past the end.
        row = min(int((lat + 90.0) / self._cell_lat), self._rows - 1)
        col = min(int(((lon + 180.0) % 360.0) / self._cell_lon), self._cols - 1)
        return row, col

    def _ring(self, i0: int, j0: int, ring: int) -> Iterator[tuple[int, int]]:
        if ring == 0:
            yield i0, j0
            return
        cols = self._cols
        for i in (i0 - ring, i0 + ring):
            if 0 <= i < self._rows:
                for j in range(j0 - ring, j0 + ring + 1):
                    yield i, j % cols
        for i in range(max(i0 - ring + 1, 0), min(i0 + ring, self._rows)):
            yield i, (j0 - ring) % cols
            yield i, (j0 + ring) % cols

    def _outside_m(
        self, frame: _Frame, lat0: float, lon0: float, i0: int, j0: int, ring: int
    ) -> float:
        """Plane distance from the origin to the nearest point outside rings 0..ring."""
        south = -90.0 + (i0 - ring) * self._cell_lat
        north = -90.0 + (i0 + ring + 1) * self._cell_lat
        gap_lat = min(
            lat0 - south if i0 - ring > 0 else math.inf,
            north - lat0 if i0 + ring + 1 < self._rows else math.inf,
        )
        gap_lon = math.inf
        if 2 * ring + 1 < self._cols:
            # The unseen columns form one arc; its nearer end is the shortest way round.
            west = -180.0 + (j0 - ring) * self._cell_lon
            east = -180.0 + (j0 + ring + 1) * self._cell_lon
            gap_lon = min(lon0 - west, east - lon0)
        return min(
            max(gap_lat - _EDGE_EPS_DEG, 0.0) * frame.m_per_deg_lat,
            max(gap_lon - _EDGE_EPS_DEG, 0.0) * frame.m_per_deg_lon,
        )
