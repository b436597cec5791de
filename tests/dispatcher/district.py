"""A tiny hand-made district for workflow, ingest and API tests (positions in Longhu, Shantou)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from dispatcher.registry import import_devices, import_elders, import_helpers
from dispatcher.store.database import Database
from dispatcher.store.models import Elder, Helper

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 in Shantou

E1_ROW = ",".join([
    "E1", "陈秀英", "82", "女", "+8613800000001", "汕头市龙湖区金涛社区3栋201房",
    "金霞街道·金涛社区",
    "23.3700", "116.7000", "高血压", "门口密码箱 2580",
    "陈国强|儿子|+8613900000001;林惠芳|女儿|+8613900000002",
])  # fmt: skip
HEADER = "ref,name,age,gender,phone,address,community,lat,lon,medical_notes,key_safe_note,contacts"
ELDERS = f"""{HEADER}
{E1_ROW}
E2,林德明,77,男,,汕头市龙湖区龙眼社区8栋502房,珠池街道·龙眼社区,23.3550,116.7150,,,
"""
DEVICES = """device_id,elder_ref,model,report_interval_s
860000000000001,E1,wristband,600
860000000000002,E2,handset,300
"""
# H1 walks from 300 m north of E1; H2 rides an e-bike from 1.5 km east; H3 is off duty next door.
HELPERS = """ref,name,phone,role,skills,travel_mode,on_duty,lat,lon
H1,黄少卿,+8613700000001,social_worker,急救证,walk,true,23.3727,116.7000
H2,许木兴,+8613700000002,volunteer,陪护,ebike,true,23.3700,116.7147
H3,郑亚妹,+8613700000003,community_staff,,car,false,23.3701,116.7001
"""


@dataclass(frozen=True)
class District:
    e1: int
    e2: int
    h1: int
    h2: int
    h3: int


async def load(db: Database, now: datetime = T0) -> District:
    async with db.session() as s:
        await import_elders(s, ELDERS, now)
        await import_devices(s, DEVICES)
        await import_helpers(s, HELPERS, now)
    async with db.session() as s:
        elders = dict((await s.execute(select(Elder.external_ref, Elder.id))).all())
        helpers = dict((await s.execute(select(Helper.external_ref, Helper.id))).all())
    return District(elders["E1"], elders["E2"], helpers["H1"], helpers["H2"], helpers["H3"])
