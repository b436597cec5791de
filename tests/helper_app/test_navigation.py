"""Navigation links and check-in distance: WGS-84 → GCJ-02 (Amap) → BD-09 (Baidu)."""

from __future__ import annotations

import math

import pytest

from dispatcher.notifier.texts import wgs84_to_gcj02
from dispatcher.web.helper_app.navigation import (
    distance_m,
    gcj02_to_bd09,
    nav_links,
    wgs84_to_bd09,
)


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """Baidu's inverse transform, written out here only to check ours against it."""
    x, y = lon - 0.0065, lat - 0.006
    x_pi = math.pi * 3000.0 / 180.0
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * x_pi)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * x_pi)
    return z * math.sin(theta), z * math.cos(theta)


@pytest.mark.parametrize(
    ("gcj", "bd"),
    [
        # The reference pair from wandergis/coordtransform's README (Tiananmen, Beijing).
        ((39.915, 116.404), (39.92133699351021, 116.41036949371029)),
    ],
)
def test_gcj02_to_bd09_matches_the_published_reference(
    gcj: tuple[float, float], bd: tuple[float, float]
) -> None:
    """The transform reproduces the widely used implementation's reference value."""
    assert gcj02_to_bd09(*gcj) == pytest.approx(bd, abs=1e-9)


@pytest.mark.parametrize("point", [(23.37, 116.70), (22.54, 114.06), (31.23, 121.47)])
def test_bd09_round_trips_to_within_a_metre(point: tuple[float, float]) -> None:
    """Baidu's inverse brings our BD-09 point back within a metre of the GCJ-02 one, and the
    BD-09 offset from GCJ-02 is the known few hundred metres."""
    gcj = wgs84_to_gcj02(*point)
    bd = gcj02_to_bd09(*gcj)
    assert distance_m(bd09_to_gcj02(*bd), gcj) < 1.0
    assert 300 < distance_m(bd, gcj) < 1_200
    assert wgs84_to_bd09(*point) == bd


def test_distance_is_the_geodesic_in_metres() -> None:
    """0.0045° of latitude in Shantou is about 498 m."""
    assert distance_m((23.3700, 116.7000), (23.3745, 116.7000)) == pytest.approx(498.2, abs=0.5)


def test_links_carry_the_converted_coordinates() -> None:
    """Amap gets GCJ-02, Baidu BD-09 with coord_type=bd09ll, geo: WGS-84; names are escaped."""
    links = nav_links(23.37, 116.70, "陈秀英 & 家")
    gcj_lat, gcj_lon = wgs84_to_gcj02(23.37, 116.70)
    bd_lat, bd_lon = wgs84_to_bd09(23.37, 116.70)
    assert f"position={gcj_lon:.5f},{gcj_lat:.5f}" in links.amap
    assert (
        f"location={bd_lat:.6f},{bd_lon:.6f}" in links.baidu and "coord_type=bd09ll" in links.baidu
    )
    assert links.geo.startswith("geo:23.370000,116.700000?q=")
    assert "&" not in links.geo.split("?q=", 1)[1] and "%26" in links.geo
