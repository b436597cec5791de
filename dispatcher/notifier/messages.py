"""Every message a person receives, one template per ``Purpose``: pure functions of facts.

Chinese first and short: a text with any Chinese character is sent as UCS-2, 70 characters in
one segment and 67 per segment beyond, so each template is written to fit two segments with a
map link (tests/dispatcher/notifier/test_messages.py counts them with ``sms_segments``). Times
are local (the facts carry local datetimes). Nothing here promises a path that is not built:
the offer says how to answer only in the ways this deployment accepts (``Facts.how_to_answer``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from dispatcher.core import Purpose
from dispatcher.notifier.texts import SIGNATURE, amap_link

__all__ = ["REASON_ZH", "Facts", "render", "short_what"]

_CATEGORY_ZH = {"emergency": "紧急求助", "general": "生活求助"}
_KIND_ZH = {"sos": "一键呼救", "fall": "跌倒报警", "vitals": "体征异常", "alarm": "设备告警"}
_LEVEL_ZH = {"operator": "值班员告警", "supervisor": "主管升级", "emergency_services": "转120"}

REASON_ZH: Mapping[str, str] = MappingProxyType(
    {
        "no_candidate": "附近暂无空闲服务人员",
        "eta_after_deadline": "预计到达晚于时限",
        "not_accepted": "超时无人接单",
        "deadline_passed": "已超过到达时限",
        "arrived_late": "到达晚于时限",
        "resolved_without_arrival": "未到场即结案",
        "false_alarm": "误报",
        "reassigned": "值班台已改派",
    }
)


@dataclass(frozen=True)
class Facts:
    """What a message may say; the applier fills it from the store, in local time."""

    incident_id: int
    category: str
    kind: str
    summary: str
    elder_name: str
    address: str
    deadline: datetime
    elder_age: int | None = None
    lat: float | None = None
    lon: float | None = None
    helper_name: str | None = None
    helper_phone: str | None = None
    eta_at: datetime | None = None
    eta_min: int | None = None
    at: datetime | None = None
    accept_code: str | None = None
    how_to_answer: str | None = None
    reason: str | None = None
    outcome: str | None = None
    level: str | None = None


def short_what(kind: str, summary: str) -> str:
    """The incident in a few Chinese characters (summaries are Chinese, then English)."""
    if kind in _KIND_ZH:
        return _KIND_ZH[kind]
    return summary.split(" ", 1)[0][:20] or summary[:20]


def _hhmm(moment: datetime | None) -> str:
    return moment.strftime("%H:%M") if moment is not None else "—"


def _link(f: Facts) -> str:
    return f"\n{amap_link(f.lat, f.lon)}" if f.lat is not None and f.lon is not None else ""


def _who(f: Facts) -> str:
    return f"{f.elder_name}({f.elder_age}岁)" if f.elder_age is not None else f.elder_name


def _why(f: Facts) -> str:
    if f.reason is None:
        return ""
    return REASON_ZH.get(f.reason, f.reason[:30])


def _helper_offer(f: Facts) -> str:
    cat = _CATEGORY_ZH.get(f.category, f.category)
    answer = f.how_to_answer or ""
    return (
        f"{SIGNATURE}{cat}#{f.incident_id}：{_who(f)} {short_what(f.kind, f.summary)}\n"
        f"{f.address[:40]}\n请{_hhmm(f.deadline)}前到达(约{f.eta_min}分钟)。{answer}{_link(f)}"
    )


def _helper_assigned(f: Facts) -> str:
    cat = _CATEGORY_ZH.get(f.category, f.category)
    return (
        f"{SIGNATURE}值班台指派您处理{cat}#{f.incident_id}：{_who(f)} "
        f"{short_what(f.kind, f.summary)}\n{f.address[:40]}\n"
        f"请{_hhmm(f.deadline)}前到达。{_link(f)}"
    )


def _helper_offer_expired(f: Facts) -> str:
    return f"{SIGNATURE}#{f.incident_id}派单已超时，已转派他人，您无需前往。"


def _helper_offer_withdrawn(f: Facts) -> str:
    return f"{SIGNATURE}#{f.incident_id}派单已撤回（{_why(f) or '值班台另有安排'}），您无需前往。"


def _helper_stood_down(f: Facts) -> str:
    if f.reason == "false_alarm":
        return f"{SIGNATURE}#{f.incident_id}经核实为误报，请停止前往，谢谢您。"
    why = _why(f)
    return (
        f"{SIGNATURE}#{f.incident_id}已改派他人{f'（{why}）' if why else ''}，您无需再前往，谢谢。"
    )


def _helper_closed(f: Facts) -> str:
    return f"{SIGNATURE}#{f.incident_id}已由值班台结案（{(f.outcome or '')[:30]}），谢谢您的帮助。"


def _family_received(f: Facts) -> str:
    return (
        f"{SIGNATURE}{f.elder_name}于{_hhmm(f.at)}发出求助（{short_what(f.kind, f.summary)}），"
        "呼叫中心已收到，正在安排服务人员，请保持电话畅通。"
    )


def _family_on_the_way(f: Facts) -> str:
    phone = f"（{f.helper_phone}）" if f.helper_phone else ""
    return (
        f"{SIGNATURE}{f.elder_name}的求助：服务人员{f.helper_name}{phone}已出发，"
        f"预计{_hhmm(f.eta_at)}前后到达。"
    )


def _family_helper_changed(f: Facts) -> str:
    return (
        f"{SIGNATURE}{f.elder_name}的求助：原服务人员{f.helper_name}无法前往，"
        "呼叫中心正在改派他人，请保持电话畅通。"
    )


def _family_arrived(f: Facts) -> str:
    return f"{SIGNATURE}服务人员{f.helper_name}已于{_hhmm(f.at)}到达{f.elder_name}身边。"


def _family_closed(f: Facts) -> str:
    return f"{SIGNATURE}{f.elder_name}的求助已处理完毕：{(f.outcome or '已完成')[:40]}。"


def _family_false_alarm(f: Facts) -> str:
    return (
        f"{SIGNATURE}{f.elder_name}于{_hhmm(f.at)}前的求助经核实为误报，已取消。"
        "如有疑问请致电呼叫中心。"
    )


def _device_on_the_way(f: Facts) -> str:
    return f"服务人员{f.helper_name}已出发，约{f.eta_min}分钟到达，请稍候"


def _device_arrived(f: Facts) -> str:
    return f"服务人员{f.helper_name}已到达"


def _escalation(f: Facts) -> str:
    level = _LEVEL_ZH.get(f.level or "", f.level or "")
    return (
        f"{SIGNATURE}{level}#{f.incident_id}：{f.elder_name}，{f.address[:30]}，"
        f"{short_what(f.kind, f.summary)}。原因：{_why(f) or '值班台升级'}。时限{_hhmm(f.deadline)}"
    )


_TEMPLATES: Mapping[Purpose, Callable[[Facts], str]] = MappingProxyType(
    {
        Purpose.HELPER_OFFER: _helper_offer,
        Purpose.HELPER_ASSIGNED: _helper_assigned,
        Purpose.HELPER_OFFER_EXPIRED: _helper_offer_expired,
        Purpose.HELPER_OFFER_WITHDRAWN: _helper_offer_withdrawn,
        Purpose.HELPER_STOOD_DOWN: _helper_stood_down,
        Purpose.HELPER_CLOSED: _helper_closed,
        Purpose.FAMILY_RECEIVED: _family_received,
        Purpose.FAMILY_ON_THE_WAY: _family_on_the_way,
        Purpose.FAMILY_HELPER_CHANGED: _family_helper_changed,
        Purpose.FAMILY_ARRIVED: _family_arrived,
        Purpose.FAMILY_CLOSED: _family_closed,
        Purpose.FAMILY_FALSE_ALARM: _family_false_alarm,
        Purpose.DEVICE_ON_THE_WAY: _device_on_the_way,
        Purpose.DEVICE_ARRIVED: _device_arrived,
        Purpose.ESCALATION: _escalation,
    }
)


def render(purpose: Purpose, facts: Facts) -> str:
    """The text for ``purpose``; every Purpose has exactly one template."""
    return _TEMPLATES[purpose](facts)
