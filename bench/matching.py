"""How long one matching decision takes with 10,000 helpers around Shantou Longhu.

Figures:

1. ``HelperGrid.nearest`` + ``decide`` (what the simulator does) over 1,000 random incidents,
   geodesic on the ``geodesic_k`` = 8 best;
2. the reference it replaces: geopy's ``geodesic`` to every helper, then sort;
3. ``rank`` + ``decide`` on 50 candidates (what the server does after its SQL box), and on what
   the box really holds at this density;
4. one geodesic per library call, and how the grid's cell size and ``geodesic_k`` trade off.

Helpers are spread uniformly over 10 km x 10 km (100 per km²), a third each walking, e-biking
or driving, their fixes up to 20 minutes old (so a quarter are stale and skipped). Seeded: reruns
measure the same roster. Times are CPU time of this thread, which other processes on a busy
machine cannot inflate; wall-clock figures follow for comparison.
Run: ``.venv/bin/python -c "from bench.matching import run; run()"``.
"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from geographiclib.geodesic import (
    Geodesic,
)
from geopy.distance import geodesic

from dispatcher.matching import (
    DEFAULT_POLICY,
    HelperGrid,
    HelperPosition,
    MatchingPolicy,
    TravelMode,
    bounding_box,
    decide,
    estimate_eta,
    rank,
    search_radius_m,
)

CENTRE = (23.37, 116.70)
SIDE_M = 10_000.0
HELPERS = 10_000
ORIGINS = 1_000
NOW = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(minutes=15)
SEED = 20250301

Origin = tuple[float, float]


def _square_point(rng: random.Random) -> Origin:
    lat0, lon0 = CENTRE
    half_lat = SIDE_M / 2 / 110_700.0
    half_lon = SIDE_M / 2 / (111_320.0 * math.cos(math.radians(lat0)))
    return rng.uniform(lat0 - half_lat, lat0 + half_lat), rng.uniform(
        lon0 - half_lon, lon0 + half_lon
    )


def _roster(rng: random.Random) -> list[HelperPosition]:
    modes = list(TravelMode)
    roster = []
    for helper_id in range(1, HELPERS + 1):
        lat, lon = _square_point(rng)
        age = timedelta(seconds=rng.uniform(0, 20 * 60))
        roster.append(HelperPosition(helper_id, lat, lon, rng.choice(modes), NOW - age))
    return roster


class _Samples:
    def __init__(self) -> None:
        self.cpu_us: list[float] = []
        self.wall_us: list[float] = []

    def time(self, call: Callable[[], object]) -> None:
        # The collector would bill one unlucky call for everybody's garbage (timeit does the same).
        gc.disable()
        try:
            cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
            call()
            self.wall_us.append((time.perf_counter_ns() - wall) / 1_000)
            self.cpu_us.append((time.thread_time_ns() - cpu) / 1_000)
        finally:
            gc.enable()

    def summary(self) -> str:
        cpu, wall = self.cpu_us, self.wall_us
        return (
            f"median {statistics.median(cpu):.0f} us, p99 {_p99(cpu):.0f} us "
            f"(wall: {statistics.median(wall):.0f} / {_p99(wall):.0f} us)"
        )


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def _grid(roster: list[HelperPosition], cell_m: float) -> HelperGrid:
    grid = HelperGrid(cell_m, latitude=CENTRE[0])
    for pos in roster:
        grid.upsert(pos)
    return grid


def _grid_decision(grid: HelperGrid, origin: Origin, policy: MatchingPolicy) -> object:
    return decide(grid.nearest(origin, now=NOW, deadline=DEADLINE, policy=policy))


def _grid_samples(grid: HelperGrid, origins: list[Origin], policy: MatchingPolicy) -> _Samples:
    samples = _Samples()
    for origin in origins:
        samples.time(partial(_grid_decision, grid, origin, policy))
    return samples


def _rank_decision(origin: Origin, candidates: list[HelperPosition]) -> object:
    return decide(rank(origin, candidates, now=NOW, deadline=DEADLINE))


def _reference(origin: Origin, roster: list[HelperPosition]) -> object:
    cutoff = NOW - DEFAULT_POLICY.location_max_age
    etas = [
        (estimate_eta(geodesic(origin, (p.lat, p.lon)).meters, p.travel_mode, DEFAULT_POLICY), p)
        for p in roster
        if p.located_at >= cutoff
    ]
    etas.sort(key=lambda pair: (pair[0], pair[1].helper_id))
    return etas[0]


def _in_box(pos: HelperPosition, box: tuple[float, float, float, float]) -> bool:
    min_lat, min_lon, max_lat, max_lon = box
    return min_lat <= pos.lat <= max_lat and min_lon <= pos.lon <= max_lon


def _per_call_us(call: Callable[[], object], repeat: int = 2_000) -> float:
    # Best of five batches: the machine's other work only ever adds time.
    samples = _Samples()
    for _ in range(5):
        samples.time(partial(_repeat, call, repeat))
    return min(samples.cpu_us) / repeat


def _repeat(call: Callable[[], object], repeat: int) -> None:
    for _ in range(repeat):
        call()


def run() -> None:
    rng = random.Random(SEED)
    roster = _roster(rng)
    origins = [_square_point(rng) for _ in range(ORIGINS)]
    fresh = sum(p.located_at >= NOW - DEFAULT_POLICY.location_max_age for p in roster)
    print(f"matching: {HELPERS:,} helpers ({fresh:,} fresh) over {SIDE_M / 1000:.0f} km square")

    grid = _grid(roster, 500.0)
    for origin in origins[:25]:
        # The grid must agree with ranking everyone, or its speed means nothing.
        brute = rank(origin, roster, now=NOW, deadline=DEADLINE)
        assert grid.nearest(origin, now=NOW, deadline=DEADLINE) == brute
    print(
        "  HelperGrid.nearest + decide, 500 m cells, geodesic_k=8: "
        f"{_grid_samples(grid, origins, DEFAULT_POLICY).summary()}"
    )

    reference = _Samples()
    for origin in origins[:5]:
        reference.time(partial(_reference, origin, roster))
    print(
        "  reference, geopy geodesic(a, b) to every fresh helper + sort: "
        f"median {statistics.median(reference.cpu_us) / 1000:.0f} ms over 5 incidents"
    )

    sampled = _Samples()
    for origin in origins:
        sampled.time(partial(_rank_decision, origin, rng.sample(roster, 50)))
    print(f"  rank + decide on 50 candidates: {sampled.summary()}")

    boxed, sizes = _Samples(), []
    box_radius = search_radius_m(DEADLINE - NOW)
    for origin in origins[:100]:
        box = bounding_box(origin, box_radius)
        candidates = [p for p in roster if _in_box(p, box)]
        sizes.append(len(candidates))
        boxed.time(partial(_rank_decision, origin, candidates))
    print(
        f"  rank + decide on the SQL box's content ({box_radius:.0f} m, "
        f"median {statistics.median(sizes):.0f} rows): {boxed.summary()}"
    )

    a, b = CENTRE, (23.40, 116.73)
    reused = geodesic()
    print(
        "  one geodesic: geopy geodesic(a, b) "
        f"{_per_call_us(lambda: geodesic(a, b).meters):.1f} us, geopy reused .measure "
        f"{_per_call_us(lambda: reused.measure(a, b)):.1f} us, geographiclib WGS84.Inverse "
        f"{_per_call_us(lambda: Geodesic.WGS84.Inverse(*a, *b, Geodesic.DISTANCE)):.1f} us"
    )

    print("  tuning HelperGrid.nearest + decide, median / p99 us CPU over 300 incidents:")
    for cell_m in (250.0, 500.0, 1000.0, 2000.0):
        tuned = _grid(roster, cell_m)
        row = []
        for k in (1, 4, 8):
            samples = _grid_samples(tuned, origins[:300], replace(DEFAULT_POLICY, geodesic_k=k))
            row.append(
                f"k={k}: {statistics.median(samples.cpu_us):4.0f} / {_p99(samples.cpu_us):4.0f}"
            )
        print(f"    cell {cell_m:5.0f} m   " + "   ".join(row))
