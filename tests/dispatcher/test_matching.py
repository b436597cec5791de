"""Matching: who arrives first, when to escalate, and the spatial search that finds them."""

from __future__ import annotations

import copy
import pickle
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from geopy.distance import geodesic

from dispatcher.matching import (
    DEFAULT_POLICY,
    Decision,
    HelperGrid,
    HelperPosition,
    MatchingPolicy,
    RankedHelper,
    TravelMode,
    bounding_box,
    decide,
    estimate_eta,
    rank,
    search_radius_m,
)

NOW = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(minutes=15)
LONGHU = (23.37, 116.70)
MS = timedelta(milliseconds=1)


def at(
    distance_m: float, bearing: float, origin: tuple[float, float] = LONGHU
) -> tuple[float, float]:
    point = geodesic(meters=distance_m).destination(origin, bearing=bearing)
    return point.latitude, point.longitude


def helper(
    helper_id: int,
    distance_m: float,
    mode: TravelMode,
    *,
    bearing: float = 0.0,
    age: timedelta = timedelta(minutes=1),
) -> HelperPosition:
    lat, lon = at(distance_m, bearing)
    return HelperPosition(helper_id, lat, lon, mode, NOW - age)


# ---- hand-checkable ranking ----------------------------------------------------------------


def test_walker_close_by_beats_car_far_away() -> None:
    """A walker 300 m away arrives in 7:12 and beats a car 3 km away at 2 + 3900 m / 22 km/h."""
    ranked = rank(
        LONGHU,
        [helper(1, 3000, TravelMode.CAR, bearing=90), helper(2, 300, TravelMode.WALK)],
        now=NOW,
        deadline=DEADLINE,
    )
    walker, car = ranked
    assert walker.helper_id == 2
    assert walker.distance_m == pytest.approx(300, abs=1e-6)
    # 2 min setup + 300 m x 1.3 / 1.25 m/s = 120 s + 312 s.
    assert abs(walker.eta - timedelta(minutes=7, seconds=12)) < MS
    assert abs(walker.arrives_at - (NOW + timedelta(minutes=7, seconds=12))) < MS
    assert walker.can_make_deadline
    # 120 s + 3000 m x 1.3 / (22 / 3.6 m/s) = 120 s + 638.18 s.
    assert car.helper_id == 1
    assert abs(car.eta - timedelta(seconds=120 + 3000 * 1.3 * 3.6 / 22)) < MS
    assert car.can_make_deadline
    assert walker.deadline == DEADLINE


def test_estimate_eta_uses_mode_speed_detour_and_setup() -> None:
    """An e-bike 5 km away needs 2 min plus 6.5 km at 15 km/h, 26 min, so 28 min in all."""
    assert abs(estimate_eta(5000, TravelMode.EBIKE, DEFAULT_POLICY) - timedelta(minutes=28)) < MS


def test_distance_is_the_geopy_wgs84_geodesic() -> None:
    """The reported distance is what geopy's WGS-84 geodesic gives for the same two points."""
    pos = HelperPosition(7, 23.41, 116.66, TravelMode.EBIKE, NOW)
    (ranked,) = rank(LONGHU, [pos], now=NOW, deadline=DEADLINE)
    assert ranked.distance_m == pytest.approx(geodesic(LONGHU, (23.41, 116.66)).meters, rel=1e-12)


def test_stale_location_is_skipped() -> None:
    """A location older than 15 minutes is not trusted; one exactly 15 minutes old still is."""
    ranked = rank(
        LONGHU,
        [
            helper(1, 100, TravelMode.WALK, age=timedelta(minutes=15, seconds=1)),
            helper(2, 2000, TravelMode.WALK, age=timedelta(minutes=15)),
        ],
        now=NOW,
        deadline=DEADLINE,
    )
    assert [r.helper_id for r in ranked] == [2]


def test_excluded_helper_is_skipped() -> None:
    """A helper who declined or let the offer expire is not offered the incident again."""
    helpers = [helper(1, 100, TravelMode.WALK), helper(2, 900, TravelMode.WALK)]
    ranked = rank(LONGHU, helpers, now=NOW, deadline=DEADLINE, exclude={1})
    assert [r.helper_id for r in ranked] == [2]


def test_only_geodesic_k_helpers_are_returned_soonest_first() -> None:
    """With geodesic_k = 3 the three soonest of ten come back, sorted by ETA."""
    helpers = [
        helper(i, 100.0 * (11 - i), TravelMode.EBIKE, bearing=36.0 * i) for i in range(1, 11)
    ]
    policy = replace(DEFAULT_POLICY, geodesic_k=3)
    ranked = rank(LONGHU, helpers, now=NOW, deadline=DEADLINE, policy=policy)
    assert [r.helper_id for r in ranked] == [10, 9, 8]


def test_ties_are_broken_by_helper_id() -> None:
    """Two helpers at the same spot with the same mode come back in helper_id order."""
    a = helper(42, 500, TravelMode.WALK)
    b = replace(a, helper_id=7)
    forward = rank(LONGHU, [a, b], now=NOW, deadline=DEADLINE)
    backward = rank(LONGHU, [b, a], now=NOW, deadline=DEADLINE)
    assert [r.helper_id for r in forward] == [r.helper_id for r in backward] == [7, 42]
    assert decide(forward).best == decide(backward).best == forward[0]


# ---- decisions -------------------------------------------------------------------------------


def test_decide_offers_best_without_escalating_when_in_time() -> None:
    """When the best helper makes the deadline, the decision is to offer without escalating."""
    ranked = rank(LONGHU, [helper(1, 300, TravelMode.WALK)], now=NOW, deadline=DEADLINE)
    assert decide(ranked) == Decision(best=ranked[0], escalate=False, reason=None)


def test_nobody_can_make_it_dispatches_best_and_escalates() -> None:
    """With only walkers 3 and 5 km away (ETA 54:00 and 88:40) the nearer goes, and escalates."""
    helpers = [helper(1, 5000, TravelMode.WALK), helper(2, 3000, TravelMode.WALK, bearing=180)]
    ranked = rank(LONGHU, helpers, now=NOW, deadline=DEADLINE)
    decision = decide(ranked)
    assert decision.best is not None
    assert decision.best.helper_id == 2
    assert not decision.best.can_make_deadline
    assert decision.escalate
    # 120 s + 3900 m / 1.25 m/s = 3240 s = 54 min, so 10:54 against the 10:15 deadline.
    assert decision.reason == "best ETA 10:54 is after the deadline 10:15"


def test_late_reason_rounds_arrival_up_and_deadline_down() -> None:
    """An arrival 20 s past a 10:15:40 deadline reads 10:16 against 10:15, never 10:15 twice."""
    deadline = NOW + timedelta(minutes=15, seconds=40)
    late = RankedHelper(
        1, 900.0, timedelta(minutes=16), NOW + timedelta(minutes=16), False, deadline=deadline
    )
    assert decide([late]).reason == "best ETA 10:16 is after the deadline 10:15"


def test_late_reason_uses_the_deadline_time_zone() -> None:
    """Times in the reason are on the deadline's clock (here China Standard Time)."""
    cst = timezone(timedelta(hours=8))
    ranked = rank(
        LONGHU,
        [helper(1, 3000, TravelMode.WALK)],
        now=NOW,
        deadline=DEADLINE.astimezone(cst),
    )
    assert decide(ranked).reason == "best ETA 18:54 is after the deadline 18:15"


def test_no_helper_escalates_with_reason() -> None:
    """No candidate at all escalates at once and says so."""
    assert decide([]) == Decision(best=None, escalate=True, reason="no helper available")


def test_decide_picks_the_soonest_even_from_unsorted_input() -> None:
    """decide() does not trust the input order: the earliest ETA wins, then the lower id."""
    slow = RankedHelper(1, 900.0, timedelta(minutes=9), NOW + timedelta(minutes=9), True)
    fast = RankedHelper(5, 300.0, timedelta(minutes=4), NOW + timedelta(minutes=4), True)
    assert decide([slow, fast]).best == fast


# ---- policy ----------------------------------------------------------------------------------


def test_policy_rejects_missing_speeds() -> None:
    """A policy without a speed for every travel mode is refused at construction."""
    with pytest.raises(ValueError, match="speeds_kmh"):
        MatchingPolicy(speeds_kmh={TravelMode.WALK: 4.5})


def test_policy_keeps_its_own_copy_of_speeds() -> None:
    """Changing the dict a policy was built from does not change the policy."""
    speeds = {TravelMode.WALK: 5.0, TravelMode.EBIKE: 15.0, TravelMode.CAR: 22.0}
    policy = MatchingPolicy(speeds_kmh=speeds)
    speeds[TravelMode.WALK] = 50.0
    assert policy.speeds_kmh[TravelMode.WALK] == 5.0


def test_policy_survives_pickle_and_deepcopy() -> None:
    """A policy can travel to a simulator worker process or be deep-copied by a settings model."""
    policy = replace(DEFAULT_POLICY, detour_factor=1.25)
    assert pickle.loads(pickle.dumps(policy)) == policy
    assert copy.deepcopy(policy) == policy


def test_helper_position_rejects_impossible_coordinates() -> None:
    """A latitude beyond the pole (or NaN) is refused rather than ranked."""
    with pytest.raises(ValueError, match="no such position"):
        HelperPosition(1, 91.0, 0.0, TravelMode.WALK, NOW)
    with pytest.raises(ValueError, match="no such position"):
        HelperPosition(1, float("nan"), 0.0, TravelMode.WALK, NOW)


# ---- the SQL prefilter -----------------------------------------------------------------------


def test_search_radius_is_what_the_fastest_mode_covers_in_time() -> None:
    """With 15 minutes left a car covers 13 min x 22 km/h / 1.3 = 3667 m; never under 3 km."""
    assert search_radius_m(timedelta(minutes=15)) == pytest.approx(13 * 60 * 22 / 3.6 / 1.3)
    assert search_radius_m(timedelta(minutes=30)) == pytest.approx(28 * 60 * 22 / 3.6 / 1.3)
    assert search_radius_m(timedelta(minutes=10)) == 3000.0
    assert search_radius_m(timedelta(minutes=-5)) == 3000.0


def test_nobody_outside_the_best_eta_radius_can_beat_the_best() -> None:
    """A car just outside search_radius_m(best.eta) arrives no sooner than the best."""
    (best,) = rank(LONGHU, [helper(1, 6000, TravelMode.WALK)], now=NOW, deadline=DEADLINE)
    radius = search_radius_m(best.eta)
    car = helper(2, radius + 1, TravelMode.CAR, bearing=45)
    assert rank(LONGHU, [car], now=NOW, deadline=DEADLINE)[0].eta > best.eta


def _in_box(pos: HelperPosition, box: tuple[float, float, float, float]) -> bool:
    min_lat, min_lon, max_lat, max_lon = box
    return min_lat <= pos.lat <= max_lat and min_lon <= pos.lon <= max_lon


@pytest.mark.parametrize("seed", range(100))
def test_two_box_queries_find_the_same_best_as_ranking_everyone(seed: int) -> None:
    """The server's SQL procedure (deadline box, then a best-ETA box if late) loses nobody."""
    rng = random.Random(seed)
    spread = rng.choice([0.01, 0.05, 0.2])
    roster = [
        HelperPosition(
            i,
            rng.gauss(LONGHU[0], spread),
            rng.gauss(LONGHU[1], spread),
            rng.choice(list(TravelMode)),
            NOW,
        )
        for i in range(rng.randrange(1, 40))
    ]
    left = timedelta(minutes=rng.choice([1, 15, 30]))
    box = bounding_box(LONGHU, search_radius_m(left))
    first = rank(LONGHU, [p for p in roster if _in_box(p, box)], now=NOW, deadline=NOW + left)
    decision = decide(first)
    if decision.best is None:
        found = rank(LONGHU, roster, now=NOW, deadline=NOW + left)
    elif decision.escalate:
        box = bounding_box(LONGHU, search_radius_m(decision.best.eta))
        found = rank(LONGHU, [p for p in roster if _in_box(p, box)], now=NOW, deadline=NOW + left)
    else:
        found = first
    everyone = rank(LONGHU, roster, now=NOW, deadline=NOW + left)
    assert decide(found).best == decide(everyone).best


@pytest.mark.parametrize(
    "origin",
    [LONGHU, (-33.87, 151.21), (60.17, 24.94), (0.0, 0.0), (69.65, 18.96)],
)
@pytest.mark.parametrize("radius_m", [0.0, 150.0, 5000.0, 40_000.0])
def test_bounding_box_contains_every_point_at_the_radius(
    origin: tuple[float, float], radius_m: float
) -> None:
    """Points exactly radius_m away in 72 directions fall inside the box, which is not loose."""
    min_lat, min_lon, max_lat, max_lon = bounding_box(origin, radius_m)
    for bearing in range(0, 360, 5):
        lat, lon = at(radius_m, bearing, origin)
        assert min_lat <= lat <= max_lat
        assert min_lon <= lon <= max_lon
    height_m = geodesic((min_lat, origin[1]), (max_lat, origin[1])).meters
    assert height_m <= 2 * radius_m * 1.01 + 0.001


def test_bounding_box_across_the_antimeridian_spans_all_longitudes() -> None:
    """Near 180° the box cannot be one BETWEEN range, so it takes every longitude."""
    _, min_lon, _, max_lon = bounding_box((-17.7, 179.99), 5000)
    assert (min_lon, max_lon) == (-180.0, 180.0)


# ---- the in-memory grid ----------------------------------------------------------------------


def test_grid_upsert_moves_and_removes_helpers() -> None:
    """Upserting moves a helper between cells, remove forgets them, and len/in follow along."""
    grid = HelperGrid(latitude=LONGHU[0])
    grid.upsert(helper(1, 100, TravelMode.WALK))
    grid.upsert(helper(2, 4000, TravelMode.CAR))
    grid.upsert(helper(1, 8000, TravelMode.WALK, bearing=90))
    assert len(grid) == 2
    assert 1 in grid
    ranked = grid.nearest(LONGHU, now=NOW, deadline=DEADLINE)
    assert [r.helper_id for r in ranked] == [2, 1]
    assert ranked[1].distance_m == pytest.approx(8000, abs=1e-6)
    grid.remove(2)
    grid.remove(99)
    assert len(grid) == 1
    assert 2 not in grid
    assert [r.helper_id for r in grid.nearest(LONGHU, now=NOW, deadline=DEADLINE)] == [1]


def test_grid_keeps_widening_to_a_far_helper() -> None:
    """With the nearest cells empty, a lone helper 800 km away is still found."""
    grid = HelperGrid(latitude=LONGHU[0])
    grid.upsert(helper(1, 800_000, TravelMode.CAR, bearing=300))
    (found,) = grid.nearest(LONGHU, now=NOW, deadline=DEADLINE)
    assert found.helper_id == 1
    assert not found.can_make_deadline


def test_empty_grid_has_nobody() -> None:
    """An empty grid returns no one rather than searching forever."""
    assert HelperGrid().nearest(LONGHU, now=NOW, deadline=DEADLINE) == []


def _random_roster(rng: random.Random, origin: tuple[float, float]) -> list[HelperPosition]:
    lat0, lon0 = origin
    spread = rng.choice([0.005, 0.02, 0.1, 1.0])
    roster = []
    for helper_id in rng.sample(range(10_000), rng.randrange(0, 250)):
        if rng.random() < 0.05:
            # A few far away, so the search has to cross empty cells (or the antimeridian).
            lat, lon = rng.uniform(-60, 60), rng.uniform(-180, 180)
        else:
            lat = min(max(rng.gauss(lat0, spread), -89.0), 89.0)
            lon = (rng.gauss(lon0, spread) + 180.0) % 360.0 - 180.0
        age = timedelta(minutes=rng.uniform(0, 20))
        roster.append(HelperPosition(helper_id, lat, lon, rng.choice(list(TravelMode)), NOW - age))
    if roster and rng.random() < 0.3:
        # Exact duplicates of place and mode exercise the helper_id tie-break.
        twin = rng.choice(roster)
        roster.append(replace(twin, helper_id=10_000 + twin.helper_id))
    return roster


@pytest.mark.parametrize("seed", range(500))
def test_grid_nearest_equals_brute_force_rank(seed: int) -> None:
    """For random rosters, policies and grids, nearest() returns exactly rank() over everyone."""
    rng = random.Random(seed)
    origin = rng.choice(
        [
            LONGHU,
            (rng.uniform(-60, 60), rng.uniform(-180, 180)),
            (rng.uniform(-10, 10), rng.choice([179.995, -179.995])),
        ]
    )
    roster = _random_roster(rng, origin)
    policy = MatchingPolicy(
        speeds_kmh={mode: rng.uniform(3, 60) for mode in TravelMode},
        detour_factor=rng.uniform(1, 1.6),
    )
    grid = HelperGrid(rng.choice([100.0, 500.0, 2000.0, 50_000.0]), latitude=origin[0])
    for pos in roster:
        if rng.random() < 0.2:
            # Where they were before: the move must leave nothing behind in the old cell.
            grid.upsert(replace(pos, lat=pos.lat / 2, lon=pos.lon / 2))
        grid.upsert(pos)
    for gone in rng.sample(roster, min(len(roster), 3)):
        grid.remove(gone.helper_id)
        roster.remove(gone)
    k = rng.randint(1, 12)
    exclude = {p.helper_id for p in roster if rng.random() < 0.1}
    deadline = NOW + timedelta(minutes=rng.choice([15, 30]))

    expected = rank(
        origin,
        roster,
        now=NOW,
        deadline=deadline,
        policy=replace(policy, geodesic_k=k),
        exclude=exclude,
    )
    found = grid.nearest(origin, now=NOW, deadline=deadline, policy=policy, exclude=exclude, k=k)
    assert found == expected


@pytest.mark.parametrize("seed", range(20))
def test_prefilter_finds_the_geodesic_best_on_city_rosters(seed: int) -> None:
    """Against an exhaustive geodesic ranking, rank() picks a helper no more than 1 s later."""
    rng = random.Random(seed)
    roster = [
        HelperPosition(
            i,
            LONGHU[0] + rng.uniform(-0.05, 0.05),
            LONGHU[1] + rng.uniform(-0.05, 0.05),
            rng.choice(list(TravelMode)),
            NOW,
        )
        for i in range(300)
    ]
    exhaustive = rank(
        LONGHU, roster, now=NOW, deadline=DEADLINE, policy=replace(DEFAULT_POLICY, geodesic_k=300)
    )
    chosen = rank(
        LONGHU, roster, now=NOW, deadline=DEADLINE, policy=replace(DEFAULT_POLICY, geodesic_k=1)
    )
    assert chosen[0].eta - exhaustive[0].eta <= timedelta(seconds=1)
