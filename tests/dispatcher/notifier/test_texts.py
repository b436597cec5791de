"""SMS texts: Chinese first, the facts a helper needs, a correct map link, short enough."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dispatcher.notifier import (
    amap_link,
    device_prompt,
    escalation_sms,
    family_sms,
    helper_offer_sms,
    sms_segments,
    wgs84_to_gcj02,
)

BEIJING = timezone(timedelta(hours=8))
# 06:35 UTC is 14:35 in Beijing: the text must show the deadline's own wall clock.
DEADLINE = datetime(2025, 3, 1, 6, 35, tzinfo=UTC).astimezone(BEIJING)
WGS_LAT, WGS_LON = 39.911954, 116.377817


def has_chinese(text: str) -> bool:
    """True when the text contains a CJK ideograph."""
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def offer(**overrides: Any) -> str:
    """A typical emergency offer, with any field replaced."""
    fields: dict[str, Any] = {
        "incident_id": 1234,
        "elder_name": "王秀英",
        "age": 82,
        "address": "朝阳区望京西园三区312号楼2单元401",
        "lat": WGS_LAT,
        "lon": WGS_LON,
        "category": "emergency",
        "summary": "Fall detected",
        "deadline": DEADLINE,
        "eta_minutes": 8,
        "accept_url": "https://hy.example.cn/a/k3J9x",
        "accept_code": "4821",
    }
    fields.update(overrides)
    return helper_offer_sms(**fields)


def test_offer_says_who_where_what_and_by_when() -> None:
    """The offer names the elder and age, the address, the event, the ETA and the incident."""
    text = offer()
    for fact in (
        "王秀英",
        "82岁",
        "朝阳区望京西园三区312号楼2单元401",
        "Fall detected",
        "8分钟",
        "#1234",
    ):
        assert fact in text


def test_offer_deadline_is_local_hh_mm_in_its_own_offset() -> None:
    """The deadline shows as 14:35 for a +08:00 deadline, never as its UTC 06:35."""
    text = offer()
    assert "14:35" in text
    assert "06:35" not in text


def test_offer_deadline_in_utc_is_shown_in_utc() -> None:
    """The text does not convert time zones: the caller chooses the offset the helper reads."""
    assert "06:35" in offer(deadline=DEADLINE.astimezone(UTC))


def test_offer_rejects_a_naive_deadline() -> None:
    """A deadline without an offset has no wall-clock meaning and is refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        offer(deadline=datetime(2025, 3, 1, 14, 35))  # noqa: DTZ001 - the naive time under test


def test_offer_tells_how_to_accept() -> None:
    """The offer shows the reply "1 <code>" in both languages, and the accept link if any."""
    text = offer()
    assert "1 4821" in text.splitlines()[-2]
    assert "Reply 1 4821 to accept" in text.splitlines()[-1]
    assert "https://hy.example.cn/a/k3J9x" in text
    assert "https://hy.example.cn" not in offer(accept_url=None)


def test_offer_is_chinese_first_then_one_english_line() -> None:
    """Every line but the last has Chinese; the last is plain English."""
    lines = offer().splitlines()
    assert has_chinese(lines[0])
    assert lines[0].startswith("【护援】紧急求助")
    assert lines[-1].isascii()
    assert lines[-1].startswith("Emergency #1234")


def test_offer_links_to_amap_at_the_gcj02_point() -> None:
    """The map link is an Amap marker at the GCJ-02 conversion of the device's WGS-84 fix."""
    text = offer()
    link = re.search(r"https://uri\.amap\.com/\S+", text)
    assert link is not None
    parts = urlsplit(link.group())
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "uri.amap.com", "/marker")
    query = parse_qs(parts.query)
    lon, lat = (float(v) for v in query["position"][0].split(","))
    assert (lat, lon) == pytest.approx((39.913345, 116.384047), abs=1e-6)
    assert query["callnative"] == ["1"]


def test_general_help_offer_is_labelled_as_such() -> None:
    """A general-help offer is not labelled as an emergency in either language."""
    text = offer(category="general", summary="买菜", age=None)
    assert "生活求助" in text
    assert "Help request #1234" in text
    assert "紧急" not in text
    assert "岁" not in text


def test_offer_rejects_an_unknown_category() -> None:
    """Only emergency and general exist; anything else is a bug upstream."""
    with pytest.raises(ValueError, match="category"):
        offer(category="urgent")


def test_offer_stays_within_four_segments() -> None:
    """A typical offer with an accept link costs at most four UCS-2 segments."""
    assert sms_segments(offer()) <= 4


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


def test_amap_link_is_lon_then_lat() -> None:
    """Amap wants position=lon,lat with six decimals."""
    assert amap_link(52.52, 13.405) == (
        "https://uri.amap.com/marker?position=13.405000,52.520000&callnative=1"
    )


def test_family_sms_names_the_helper_and_eta() -> None:
    """With a helper on the way the family hears who is coming and roughly when."""
    text = family_sms(elder_name="王秀英", summary="跌倒", helper_name="李强", eta_minutes=8)
    first, last = text.splitlines()
    assert has_chinese(first)
    assert "李强" in first
    assert "8分钟" in first
    assert "on the way" in last
    assert "8 min" in last


def test_family_sms_without_eta_still_says_the_helper_left() -> None:
    """A helper without an ETA is still announced, without a made-up time."""
    text = family_sms(elder_name="王秀英", summary="跌倒", helper_name="李强", eta_minutes=None)
    assert "李强已出发" in text
    assert "分钟" not in text


def test_family_sms_without_helper_says_help_is_being_arranged() -> None:
    """Before a helper accepts, the family hears the call centre is arranging help."""
    text = family_sms(elder_name="王秀英", summary="SOS", helper_name=None, eta_minutes=None)
    assert "呼叫中心正在安排服务人员" in text
    assert "arranging a helper" in text.splitlines()[-1]
    assert sms_segments(text) <= 2


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


def test_escalation_sms_carries_level_incident_place_and_reason() -> None:
    """A supervisor's alert says the level, which incident, where, and why, Chinese first."""
    text = escalation_sms(
        level="supervisor",
        incident_id=12,
        elder_name="王秀英",
        address="朝阳区望京西园三区312号楼",
        reason="no helper can arrive before 14:35",
    )
    first, last = text.splitlines()
    assert first.startswith("【护援】主管升级#12")
    assert "朝阳区望京西园三区312号楼" in first
    assert "no helper can arrive before 14:35" in first
    assert last == "Escalation (supervisor) #12: no helper can arrive before 14:35"


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
