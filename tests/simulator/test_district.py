"""The district generator and the request stream: deterministic, and shaped as the scenario says."""

from __future__ import annotations

from dataclasses import replace

from simulator.demand import Request, requests
from simulator.district import generate
from simulator.scenario import load


def test_same_seed_same_district_and_stream() -> None:
    """Two generations from one seed agree to the last home, shift and call."""
    small = load("small")
    assert generate(small) == generate(small)
    assert requests(small, 1, 300) == requests(small, 1, 300)


def test_another_seed_another_district() -> None:
    """Changing the seed moves the homes."""
    small = load("small")
    assert generate(small).elders != generate(replace(small, seed=2)).elders


def test_tag_renames_without_moving() -> None:
    """A run tag changes refs and device ids but no position."""
    small = load("small")
    a, b = generate(small, tag=1), generate(small, tag=2)
    assert [(e.lat, e.lon) for e in a.elders] == [(e.lat, e.lon) for e in b.elders]
    assert a.elders[0].device_id != b.elders[0].device_id


def test_shipped_scenarios_scale_as_documented() -> None:
    """city is ten times longhu; surge is longhu with a five-fold emergency surge."""
    longhu, city, surge = load("longhu"), load("city"), load("surge")
    assert longhu.district.elders == 14_000
    assert city.district.elders == 10 * longhu.district.elders
    assert city.demand.requests_per_day == 10 * longhu.demand.requests_per_day
    assert surge.demand.surges[0].emergency_factor == 5.0


def test_surge_hours_carry_more_emergencies() -> None:
    """In surge the three surge hours hold several times longhu's emergencies."""
    longhu, surge = load("longhu"), load("surge")

    def in_surge(calls: list[Request]) -> int:
        return sum(1 for r in calls if r.emergency and 13 * 3600 <= r.t < 16 * 3600)

    base = sum(in_surge(requests(replace(longhu, seed=s), 1, 100)) for s in range(1, 21))
    hot = sum(in_surge(requests(replace(surge, seed=s), 1, 100)) for s in range(1, 21))
    assert hot > 3 * base


def test_the_first_night_is_staffed_by_the_shift_that_began_the_evening_before() -> None:
    """At 01:00 on day one the 22:00 shift is on duty, as on every other night."""
    district = generate(load("longhu"), days=2)
    on_duty = [
        sum(any(a <= t < b for a, b in h.duty) for h in district.helpers)
        for t in (3600.0, 86_400.0 + 3600.0)  # 01:00 on the first and on the second night
    ]
    assert on_duty[0] > 0
    assert min(on_duty) >= max(on_duty) / 2  # days off rotate, so nights differ a little
