"""Fast mode on a hand-checkable district: one e-bike helper, two elders due north of the base.

Every incident rule is the server's core (``dispatcher.core``); these check the world around it
(answers, travel, shifts) and that the core's settings and moves are what fast mode runs.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from geographiclib.geodesic import Geodesic

from dispatcher.core import CoreConfig
from dispatcher.matching import TravelMode
from simulator.demand import MAX_ATTEMPTS, Answer, Request
from simulator.district import District, Elder, Helper
from simulator.engine import simulate
from simulator.policy import POLICIES
from simulator.scenario import Scenario
from sla import Level

BASE = (23.37, 116.70)


def _north(metres: float) -> tuple[float, float]:
    g = Geodesic.WGS84.Direct(BASE[0], BASE[1], 0.0, metres)
    return g["lat2"], g["lon2"]


def _elder(i: int, metres: float) -> Elder:
    lat, lon = _north(metres)
    return Elder(f"E{i}", "x", lat, lon, 0, f"86000000000000{i}", "handset", 300)


def _call(i: int, t: float, elder: int) -> Request:
    # Answers in 10 s, always yes (u = 0); travel exactly as estimated; 600 s on scene.
    answers = tuple(Answer(0.0, 10.0) for _ in range(MAX_ATTEMPTS))
    return Request(i, t, True, "sos", elder, False, None, 60.0, 600.0, 1.0, answers)


@pytest.fixture
def district() -> District:
    helper = Helper(0, "H0", "x", "social_worker", TravelMode.EBIKE, *BASE, ((0.0, 86_400.0),))
    return District(Scenario("tiny"), (_elder(0, 1000), _elder(1, 3000)), (helper,), (1.0,))


def test_exact_arrivals_one_helper_two_elders(district: District) -> None:
    """ETA = 120 s setup + metres x 1.3 / (15 km/h): 432 s for 1 km; the second call waits."""
    result = simulate(district, [_call(1, 0.0, 0), _call(2, 500.0, 1)], POLICIES["nearest"], days=1)
    first, second = result.incidents
    # Offered at 0, accepted at 10, 1 km by e-bike: 10 + 120 + 312 = 442 s.
    assert first.arrived_s == pytest.approx(442.0, abs=1e-3)
    # The helper is on scene until 1042; retries every 30 s from 500 find them at 1070; accepted
    # at 1080; from elder 0 to elder 1 is 2 km: 120 + 624 s, so on scene at 1824 (late: > 1400).
    assert second.first_offer_s == pytest.approx(1070.0)
    assert second.arrived_s == pytest.approx(1824.0, abs=1e-3)
    assert second.arrived_s is not None and second.arrived_s > second.deadline_s
    helper = result.helpers[0]
    assert helper.assignments == 2
    assert helper.busy_s == pytest.approx((1042 - 10) + (1824 + 600 - 1080), abs=1e-3)
    # The core's escalation: the first location report past the deadline finds the second
    # still on the way (breached: supervisor), and five minutes later 120 is called.
    assert (first.escalation, second.escalation) == (Level.NONE, Level.EMERGENCY_SERVICES)
    assert result.notices["escalation"] == 2
    assert result.notices["family_closed"] == 2


def test_the_dispatch_retry_is_the_cores_setting(district: District) -> None:
    """With nobody free the core retries at its configured interval: 60 s finds the helper
    free at 1100 (from 500, the helper free at 1042) where the default 30 s found them at 1070."""
    calls = [_call(1, 0.0, 0), _call(2, 500.0, 1)]
    config = CoreConfig(retry_dispatch_after=timedelta(seconds=60))
    result = simulate(district, calls, POLICIES["nearest"], days=1, config=config)
    assert result.incidents[1].first_offer_s == pytest.approx(1100.0)


def test_reoffer_withdraws_through_the_core_and_tells_everyone(district: District) -> None:
    """A helper coming on duty next door takes over from one 17 minutes out: the core withdraws
    the first (stood down, family told of the change, not asked again) and offers the second."""
    far = district.helpers[0]
    near = Helper(1, "H1", "y", "social_worker", TravelMode.EBIKE, *_north(3000), ((200.0, 9e4),))
    world = District(district.scenario, district.elders, (far, near), (1.0,))
    result = simulate(world, [_call(1, 0.0, 1)], POLICIES["reoffer"], days=1)
    (incident,) = result.incidents
    # Accepted at 10 by the far helper (3 km: 120 + 936 s); the near one is on duty at 200,
    # accepts at 210 and is on scene 120 s later.
    assert incident.reoffers == 1 and incident.offers == 2
    assert incident.arrived_s == pytest.approx(330.0, abs=1e-3)
    assert incident.helper == 1 and 0 in incident.excluded
    assert result.notices["helper_stood_down"] == 1
    assert result.notices["family_helper_changed"] == 1
    assert result.helpers[0].assignments == 0 and result.helpers[0].incident is None


def test_declines_move_on_and_false_alarms_release_the_helper(district: District) -> None:
    """A decline excludes that helper; a confirmed false alarm frees a helper on the way."""
    no = tuple(Answer(0.99, 10.0) for _ in range(MAX_ATTEMPTS))
    declined = Request(1, 0.0, True, "sos", 0, False, None, 60.0, 600.0, 1.0, no)
    false_alarm = Request(
        2, 2000.0, True, "sos", 1, True, 30.0, 60.0, 600.0, 1.0, _call(0, 0, 0).answers
    )
    result = simulate(district, [declined, false_alarm], POLICIES["nearest"], days=1)
    first, second = result.incidents
    assert first.offers == 1 and first.arrived_s is None and 0 in first.excluded
    # Accepted at 2010, device cancel at 2030, operator confirms at 2090: on the way, not there.
    assert second.cancelled and second.closed_s == pytest.approx(2090.0)
    assert second.arrived_s is None and result.helpers[0].incident is None
