"""What our messages say: pure functions from facts to text, Chinese first, then one English line.

Keep them short. One Chinese character makes the whole SMS UCS-2: 70 characters fit in one
segment, and a longer text is split into 67-character segments that are each billed and can
arrive out of order on old handsets. Every field earns its place: who, where (with a map link),
what, by when, and how to answer. :func:`sms_segments` counts what a text will cost.

Map links go to Amap (高德, ``uri.amap.com``): it is the map app most helpers in mainland China
have, the link opens it directly (``callnative=1``) with navigation one tap away, and it loads
fast there, unlike openstreetmap.org. Amap draws GCJ-02 coordinates while devices report WGS-84;
a WGS-84 point put on Amap unconverted lands 100–700 m off, a street or a building away. We
convert here with the well-known public formula (:func:`wgs84_to_gcj02`, ~1 m) instead of
relying on Amap's ``coordinate=wgs84`` parameter, so the link is correct however it is opened and
its coordinates can be checked in tests. Outside China the formula leaves points as they are.
"""

from __future__ import annotations

import math
from datetime import datetime

__all__ = [
    "SIGNATURE",
    "amap_link",
    "device_prompt",
    "escalation_sms",
    "family_sms",
    "helper_offer_sms",
    "sms_segments",
    "wgs84_to_gcj02",
]

# Mainland carriers require a 【signature】 at the start of application-to-person SMS.
SIGNATURE = "【护援】"

_CATEGORY_ZH = {"emergency": "紧急求助", "general": "生活求助"}
_CATEGORY_EN = {"emergency": "Emergency", "general": "Help request"}
_LEVEL_ZH = {
    "operator": "值班员告警",
    "supervisor": "主管升级",
    "emergency_services": "转120急救",
}


def helper_offer_sms(
    *,
    incident_id: int,
    elder_name: str,
    age: int | None,
    address: str,
    lat: float,
    lon: float,
    category: str,
    summary: str,
    deadline: datetime,
    eta_minutes: int,
    accept_url: str | None,
    accept_code: str,
) -> str:
    """The offer to a helper: who, where, what, arrive by when, and how to accept."""
    zh_kind, en_kind = _category(category)
    by = _hhmm(deadline)
    who = f"{elder_name}({age}岁)" if age is not None else elder_name
    accept = f"接单请回复“1 {accept_code}”"
    if accept_url:
        accept += f"或打开 {accept_url}"
    return "\n".join(
        [
            f"{SIGNATURE}{zh_kind}#{incident_id}：{who} {summary}",
            f"地址：{address}",
            f"地图：{amap_link(lat, lon)}",
            f"请{by}前到达（约{eta_minutes}分钟路程）。{accept}",
            f"{en_kind} #{incident_id}: arrive by {by}. Reply 1 {accept_code} to accept.",
        ]
    )


def family_sms(
    *,
    elder_name: str,
    summary: str,
    helper_name: str | None,
    eta_minutes: int | None,
) -> str:
    """Tells the elder's emergency contacts that help is on the way, or is being arranged."""
    if helper_name is None:
        return (
            f"{SIGNATURE}{elder_name}发出求助（{summary}），呼叫中心正在安排服务人员，"
            "请保持电话畅通。\n"
            f"Huyuan: {elder_name} asked for help; we are arranging a helper."
        )
    eta_zh = f"，预计{eta_minutes}分钟到达" if eta_minutes is not None else ""
    eta_en = f", about {eta_minutes} min" if eta_minutes is not None else ""
    return (
        f"{SIGNATURE}{elder_name}发出求助（{summary}），服务人员{helper_name}已出发{eta_zh}。\n"
        f"Huyuan: help for {elder_name} is on the way ({helper_name}{eta_en})."
    )


def device_prompt(result: str, *, helper_assigned: bool) -> str:
    """The short line a device shows or speaks with its ack (Chinese only: it is read aloud).

    ``result`` is the ack's result: accepted, duplicate (the same press again) or rejected.
    """
    if result in ("accepted", "duplicate"):
        return "服务人员已在路上，请稍候" if helper_assigned else "求助已收到，正在为您联系服务人员"
    if result == "rejected":
        # The server could not take this message; the elder must not wait for help that is not
        # coming, so point them at the phone.
        return "求助未能受理，请直接拨打家人电话或120"
    raise ValueError(f"unknown ack result {result!r}")


def escalation_sms(
    *,
    level: str,
    incident_id: int,
    elder_name: str,
    address: str,
    reason: str,
) -> str:
    """Alerts an operator or supervisor that an incident needs a person to act on it now."""
    level_zh = _LEVEL_ZH.get(level, level)
    return (
        f"{SIGNATURE}{level_zh}#{incident_id}：{elder_name}，{address}。原因：{reason}\n"
        f"Escalation ({level}) #{incident_id}: {reason}"
    )


def amap_link(lat: float, lon: float) -> str:
    """An Amap marker link for a WGS-84 point (converted to GCJ-02), opening the app on phones."""
    gcj_lat, gcj_lon = wgs84_to_gcj02(lat, lon)
    return f"https://uri.amap.com/marker?position={gcj_lon:.6f},{gcj_lat:.6f}&callnative=1"


# Krasovsky 1940 ellipsoid, which GCJ-02 is defined on.
_A = 6378245.0
_EE = 0.00669342162296594323


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """WGS-84 (lat, lon) to GCJ-02 (lat, lon); unchanged outside China's bounding box."""
    if not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271):
        return lat, lon
    x, y = lon - 105.0, lat - 35.0
    waves = 20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d_lat += (
        waves
        + 20.0 * math.sin(y * math.pi)
        + 40.0 * math.sin(y / 3.0 * math.pi)
        + 160.0 * math.sin(y / 12.0 * math.pi)
        + 320.0 * math.sin(y / 30.0 * math.pi)
    ) * (2.0 / 3.0)
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d_lon += (
        waves
        + 20.0 * math.sin(x * math.pi)
        + 40.0 * math.sin(x / 3.0 * math.pi)
        + 150.0 * math.sin(x / 12.0 * math.pi)
        + 300.0 * math.sin(x / 30.0 * math.pi)
    ) * (2.0 / 3.0)
    rad_lat = math.radians(lat)
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return lat + d_lat, lon + d_lon


# GSM 03.38: the basic set costs one septet, the extension set two (escape + char).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def sms_segments(body: str) -> int:
    """How many SMS segments ``body`` is billed as (GSM-7: 160/153, otherwise UCS-2: 70/67)."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in body):
        septets = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def _category(category: str) -> tuple[str, str]:
    try:
        return _CATEGORY_ZH[category], _CATEGORY_EN[category]
    except KeyError:
        raise ValueError(f"unknown category {category!r}") from None


def _hhmm(moment: datetime) -> str:
    """Wall-clock hh:mm in the moment's own offset; a naive time has no meaning to a helper."""
    if moment.utcoffset() is None:
        raise ValueError("deadline must be timezone-aware")
    return moment.strftime("%H:%M")
