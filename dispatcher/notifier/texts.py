"""The building blocks of our texts: the SMS signature, map links, segment counting, and the
short prompt a device shows with its ack. The messages themselves, one per purpose, are in
:mod:`dispatcher.notifier.messages`.

One Chinese character makes the whole SMS UCS-2: 70 characters fit in one segment, and a longer
text is split into 67-character segments that are each billed and can arrive out of order on old
handsets. :func:`sms_segments` counts what a text will cost.

Map links go to Amap (高德, ``uri.amap.com``): it is the map app most helpers in mainland China
have and it loads fast there, unlike openstreetmap.org. Amap draws GCJ-02 coordinates while
devices report WGS-84; a WGS-84 point put on Amap unconverted lands 100–700 m off, a street or a
building away. We convert here with the well-known public formula (:func:`wgs84_to_gcj02`, ~1 m)
instead of relying on Amap's ``coordinate=wgs84`` parameter, so the link is correct however it
is opened and its coordinates can be checked in tests. Outside China the formula leaves points
as they are. An SMS link carries five decimals (about a metre, finer than any fix) and no
``callnative=1``: those 15 characters are an address line's worth in a two-segment text, and the
Amap page opens the app in one tap (:func:`amap_link` adds it on request).
"""

from __future__ import annotations

import math

__all__ = [
    "SIGNATURE",
    "amap_link",
    "device_prompt",
    "sms_segments",
    "wgs84_to_gcj02",
]

# Mainland carriers require a 【signature】 at the start of application-to-person SMS.
SIGNATURE = "【护援】"


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


def amap_link(lat: float, lon: float, *, open_app: bool = False) -> str:
    """An Amap marker link for a WGS-84 point (converted to GCJ-02); ``open_app`` makes phones
    jump straight into the Amap app (15 characters more)."""
    gcj_lat, gcj_lon = wgs84_to_gcj02(lat, lon)
    link = f"https://uri.amap.com/marker?position={gcj_lon:.5f},{gcj_lat:.5f}"
    return link + "&callnative=1" if open_app else link


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
