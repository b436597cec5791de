"""Text building blocks: a correct Amap link, the device's ack prompt, SMS segment counting."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from dispatcher.notifier import amap_link, device_prompt, sms_segments, wgs84_to_gcj02

WGS_LAT, WGS_LON = 39.911954, 116.377817


# Reference points published with the eviltransform project (WGS-84 in, GCJ-02 out).
@pytest.mark.parametrize(
    ("wgs", "gcj"),
    [
        ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
        ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
        ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
    ],
)
def test_wgs84_to_gcj02_matches_reference_points(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    """The conversion agrees with published reference points to about 10 cm."""
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-6)


def test_wgs84_to_gcj02_leaves_points_outside_china_alone() -> None:
    """Outside China's box there is no offset to apply."""
    assert wgs84_to_gcj02(52.52, 13.405) == (52.52, 13.405)


def test_amap_link_is_lon_then_lat_with_five_decimals() -> None:
    """Amap wants position=lon,lat; five decimals are about a metre, finer than any fix."""
    assert amap_link(52.52, 13.405) == "https://uri.amap.com/marker?position=13.40500,52.52000"


def test_amap_link_is_at_the_gcj02_point() -> None:
    """The marker sits at the GCJ-02 conversion of the device's WGS-84 fix."""
    parts = urlsplit(amap_link(WGS_LAT, WGS_LON))
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "uri.amap.com", "/marker")
    lon, lat = (float(v) for v in parse_qs(parts.query)["position"][0].split(","))
    assert (lat, lon) == pytest.approx((39.913345, 116.384047), abs=1e-5)


def test_amap_link_can_open_the_app_directly() -> None:
    """On request the link asks phones to open the Amap app at once (callnative=1)."""
    query = parse_qs(urlsplit(amap_link(WGS_LAT, WGS_LON, open_app=True)).query)
    assert query["callnative"] == ["1"]
    assert "callnative" not in amap_link(WGS_LAT, WGS_LON)


def test_an_sms_link_fits_in_most_of_one_segment() -> None:
    """A Chinese-mainland link is 55 characters: two segments leave room for the facts."""
    assert len(amap_link(23.3700, 116.7000)) == 55


@pytest.mark.parametrize(
    ("result", "helper_assigned", "expected"),
    [
        ("accepted", False, "求助已收到，正在为您联系服务人员"),
        ("accepted", True, "服务人员已在路上，请稍候"),
        ("duplicate", False, "求助已收到，正在为您联系服务人员"),
        ("duplicate", True, "服务人员已在路上，请稍候"),
        ("rejected", False, "求助未能受理，请直接拨打家人电话或120"),
    ],
)
def test_device_prompt(result: str, helper_assigned: bool, expected: str) -> None:
    """The device hears that help is coming, is being arranged, or that it must phone instead."""
    assert device_prompt(result, helper_assigned=helper_assigned) == expected


def test_device_prompt_rejects_unknown_results() -> None:
    """An ack result outside the contract is a bug, not a silent prompt."""
    with pytest.raises(ValueError, match="ack result"):
        device_prompt("ok", helper_assigned=False)


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("中" * 70, 1),
        ("中" * 71, 2),
        ("中" * 134, 2),
        ("中" * 135, 3),
        ("a" * 69 + "中", 1),
    ],
)
def test_sms_segments(body: str, segments: int) -> None:
    """GSM-7 texts split at 160/153 septets, anything with Chinese at 70/67 characters."""
    assert sms_segments(body) == segments
