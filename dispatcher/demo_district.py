"""A small demo district in Shantou's Longhu district (around 23.37 N, 116.70 E), from a seed.

Enough for ``make demo`` and the end-to-end tests: elders in a few residential communities, one
device each, helpers on duty near them. The simulator generates the large districts.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass

CENTRE = (23.3705, 116.7020)
# (sub-district · community, offset north km, offset east km) — streets of Longhu district.
COMMUNITIES = [
    ("金霞街道·金涛社区", 0.0, 0.0),
    ("珠池街道·龙眼社区", -1.6, 1.2),
    ("新津街道·新兴社区", 1.4, -1.5),
    ("龙华街道·华新社区", 0.8, 2.1),
    ("鸥汀街道·鸥上社区", 2.6, 0.9),
    ("外砂街道·蓬中社区", 3.5, 3.2),
]
SURNAMES = "陈林黄李张吴郑蔡许王杨谢刘方洪庄余卢"
GIVEN = [
    "秀英",
    "桂兰",
    "玉珍",
    "淑贞",
    "德明",
    "国强",
    "建华",
    "亚妹",
    "惠芳",
    "木兴",
    "炳坤",
    "少卿",
]
CONDITIONS = ["高血压", "糖尿病", "冠心病", "轻度认知障碍", "慢阻肺", "骨质疏松", "无"]
RELATIONS = ["儿子", "女儿", "侄子", "邻居", "孙女"]
KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON = 102.0  # at 23.37 N


@dataclass(frozen=True)
class DemoDistrict:
    elders_csv: str
    devices_csv: str
    helpers_csv: str


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _point(
    rng: random.Random, north_km: float, east_km: float, spread_km: float
) -> tuple[float, float]:
    lat = CENTRE[0] + (north_km + rng.gauss(0, spread_km)) / KM_PER_DEG_LAT
    lon = CENTRE[1] + (east_km + rng.gauss(0, spread_km)) / KM_PER_DEG_LON
    return round(lat, 6), round(lon, 6)


def _phone(rng: random.Random) -> str:
    return f"+86138{rng.randrange(10**8):08d}"


def generate(seed: int = 7, elders: int = 60, helpers: int = 14) -> DemoDistrict:
    rng = random.Random(seed)
    elder_rows: list[list[object]] = []
    device_rows: list[list[object]] = []
    for i in range(elders):
        community, north, east = COMMUNITIES[i % len(COMMUNITIES)]
        lat, lon = _point(rng, north, east, 0.35)
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        contacts = ";".join(
            f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}|{rng.choice(RELATIONS)}|{_phone(rng)}"
            for _ in range(rng.randint(1, 3))
        )
        ref = f"E{i + 1:04d}"
        elder_rows.append(
            [
                ref,
                name,
                rng.randint(68, 96),
                rng.choice(["女", "男"]),
                _phone(rng),
                f"汕头市龙湖区{community.split('·')[1]}"
                f"{rng.randint(1, 40)}栋{rng.randint(101, 1804)}房",
                community,
                lat,
                lon,
                rng.choice(CONDITIONS),
                rng.choice(["", "门口鞋柜密码箱 2580", "钥匙在对门邻居处"]),
                contacts,
            ]
        )
        model = "wristband" if i % 3 == 0 else "handset"
        device_rows.append([f"8600000{i + 1:08d}", ref, model, 300 if model == "handset" else 600])
    helper_rows: list[list[object]] = []
    roles = ["social_worker", "volunteer", "community_staff"]
    modes = ["walk", "ebike", "ebike", "car"]
    for j in range(helpers):
        community, north, east = COMMUNITIES[j % len(COMMUNITIES)]
        lat, lon = _point(rng, north, east, 0.6)
        helper_rows.append(
            [
                f"H{j + 1:03d}",
                rng.choice(SURNAMES) + rng.choice(GIVEN),
                _phone(rng),
                roles[j % len(roles)],
                "陪护;代购;维修" if j % 2 else "急救证;陪护",
                modes[j % len(modes)],
                "true",
                lat,
                lon,
            ]
        )
    return DemoDistrict(
        elders_csv=_csv(
            [
                "ref",
                "name",
                "age",
                "gender",
                "phone",
                "address",
                "community",
                "lat",
                "lon",
                "medical_notes",
                "key_safe_note",
                "contacts",
            ],
            elder_rows,
        ),
        devices_csv=_csv(["device_id", "elder_ref", "model", "report_interval_s"], device_rows),
        helpers_csv=_csv(
            ["ref", "name", "phone", "role", "skills", "travel_mode", "on_duty", "lat", "lon"],
            helper_rows,
        ),
    )
