"""Navigation links and check-in distance for the helper app (pure: no I/O, no clock).

Devices and browsers report WGS-84. Amap (高德) draws GCJ-02 and Baidu (百度) draws BD-09, a
further offset of GCJ-02; a WGS-84 point put on either unconverted lands hundreds of metres
off. ``gcj02_to_bd09`` is Baidu's published transform (the same formula as every open
implementation, e.g. wandergis/coordtransform), exact to well under a metre. ``geo:`` links
carry WGS-84 as RFC 5870 says, for whatever map app the phone prefers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote

from geographiclib.geodesic import Geodesic

from dispatcher.notifier.texts import amap_link, wgs84_to_gcj02

__all__ = ["NavLinks", "distance_m", "gcj02_to_bd09", "nav_links", "wgs84_to_bd09"]

_X_PI = math.pi * 3000.0 / 180.0


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """A GCJ-02 point in Baidu's BD-09 (latitude, longitude)."""
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Geodesic distance on WGS-84 in metres (the ellipsoid matching uses)."""
    result = Geodesic.WGS84.Inverse(a[0], a[1], b[0], b[1], Geodesic.DISTANCE)
    return float(result["s12"])


@dataclass(frozen=True)
class NavLinks:
    amap: str
    baidu: str
    geo: str


def nav_links(lat: float, lon: float, label: str) -> NavLinks:
    """Links that open the elder's position in Amap, Baidu Maps and the phone's default app."""
    bd_lat, bd_lon = wgs84_to_bd09(lat, lon)
    name = quote(label[:40])
    baidu = (
        "https://api.map.baidu.com/marker"
        f"?location={bd_lat:.6f},{bd_lon:.6f}&title={name}&content={name}"
        "&output=html&coord_type=bd09ll&src=huyuan.helper"
    )
    return NavLinks(
        amap=amap_link(lat, lon, open_app=True),
        baidu=baidu,
        geo=f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({name})",
    )
