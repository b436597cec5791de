"""Every message a person receives, one template per ``Purpose``: pure functions of facts.

Chinese only, and short: a text with any Chinese character is sent as UCS-2, 70 characters in
one segment and 67 per segment beyond, so every SMS is held to two segments (134 characters)
with its map link (tests/dispatcher/notifier/test_messages.py counts them with
``sms_segments``). What gives way when facts are long:

* names (elder, helper; columns of 100) are cut to ``NAME_CHARS`` with an ellipsis: Chinese
  names are two to four characters, and the incident number identifies the case anyway;
* addresses (300) keep their *end*, which in a Chinese address is the building, unit and room,
  and lose the province, city and district a local helper knows; each template gives the
  address whatever room is left in two segments, between ``ADDRESS_MIN_CHARS`` and
  ``ADDRESS_MAX_CHARS``;
* outcomes and summaries are cut to a few words.

Times are local (the facts carry local datetimes). Nothing here promises a path that is not
built: the offer says how to answer only in the ways this deployment accepts
(``Facts.how_to_answer``), no text asks for a reply otherwise, and an escalation asks the
supervisor to call 120 rather than claim that 120 was called.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from dispatcher.core import Purpose
from dispatcher.notifier.texts import SIGNATURE, amap_link, sms_segments

__all__ = [
    "ADDRESS_MAX_CHARS",
    "ADDRESS_MIN_CHARS",
    "MAX_SEGMENTS",
    "NAME_CHARS",
    "REASON_ZH",
    "Facts",
    "render",
    "short_what",
]

MAX_SEGMENTS = 2
NAME_CHARS = 8
ADDRESS_MIN_CHARS = 10
ADDRESS_MAX_CHARS = 40
_WHAT_CHARS = 8
_OUTCOME_CHARS = 24
_ELLIPSIS = "…"

_CATEGORY_ZH = {"emergency": "紧急", "general": "求助"}
_KIND_ZH = {"sos": "呼救", "fall": "跌倒", "vitals": "体征异常", "alarm": "设备告警"}
# Whom an escalation asks to act; the server calls no one itself.
_LEVEL_ZH = {
    "operator": "需值班员处理",
    "supervisor": "已升级至主管",
    "emergency_services": "需呼叫120",
}

REASON_ZH: Mapping[str, str] = MappingProxyType(
    {
        "no_candidate": "附近暂无空闲服务人员",
        "eta_after_deadline": "预计到达晚于时限",
        "not_accepted": "超时无人接单",
        "deadline_passed": "已超过到达时限",
        "arrived_late": "到达晚于时限",
        "resolved_without_arrival": "未到场即结案",
        "false_alarm": "经核实为误报",
        "reassigned": "值班台已改派他人",
    }
)
"""Reason codes (the SLA's, and the core's withdraw reasons) as a person reads them."""


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
    first = summary.split(" ", 1)[0] or summary
    return _clip(first.strip(), _WHAT_CHARS) or "求助"


# ---- pieces ---------------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when anything was cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + _ELLIPSIS


def _tail(text: str, limit: int) -> str:
    """The end of ``text`` in ``limit`` characters (for addresses: the room, not the city)."""
    text = text.strip()
    return text if len(text) <= limit else _ELLIPSIS + text[len(text) - limit + 1 :]


def _fit(build: Callable[[str], str], address: str) -> str:
    """``build(address)`` with the address as long as two segments allow (within bounds)."""
    limit = ADDRESS_MAX_CHARS
    text = build(_tail(address, limit))
    while sms_segments(text) > MAX_SEGMENTS and limit > ADDRESS_MIN_CHARS:
        limit -= 1
        text = build(_tail(address, limit))
    return text


def _hhmm(moment: datetime | None) -> str:
    return moment.strftime("%H:%M") if moment is not None else "—"


def _link(f: Facts) -> str:
    return f"\n{amap_link(f.lat, f.lon)}" if f.lat is not None and f.lon is not None else ""


def _elder(f: Facts) -> str:
    return _clip(f.elder_name, NAME_CHARS)


def _helper(f: Facts) -> str:
    return _clip(f.helper_name or "服务人员", NAME_CHARS)


def _who(f: Facts) -> str:
    return f"{_elder(f)}({f.elder_age}岁)" if f.elder_age is not None else _elder(f)


def _case(f: Facts) -> str:
    """How a helper recognises the case: its number and the elder's name."""
    return f"#{f.incident_id}（{_elder(f)}）"


def _why(f: Facts) -> str | None:
    """A known reason code in words; free text (an operator's note) is not sent to anyone."""
    return REASON_ZH.get(f.reason) if f.reason is not None else None


def _eta(f: Facts) -> str:
    return f"约{f.eta_min}分钟" if f.eta_min is not None else ""


# ---- helpers --------------------------------------------------------------------------------


def _helper_offer(f: Facts) -> str:
    cat = _CATEGORY_ZH.get(f.category, "求助")
    eta = f"，{_eta(f)}" if f.eta_min is not None else ""
    answer = f.how_to_answer or ""
    return _fit(
        lambda address: (
            f"{SIGNATURE}{cat}#{f.incident_id} {_who(f)}{short_what(f.kind, f.summary)}\n"
            f"{address}\n请{_hhmm(f.deadline)}前到达{eta}。{answer}{_link(f)}"
        ),
        f.address,
    )


def _helper_assigned(f: Facts) -> str:
    cat = _CATEGORY_ZH.get(f.category, "求助")
    return _fit(
        lambda address: (
            f"{SIGNATURE}值班台派您前往{cat}#{f.incident_id} {_who(f)}"
            f"{short_what(f.kind, f.summary)}\n{address}\n请{_hhmm(f.deadline)}前到达。{_link(f)}"
        ),
        f.address,
    )


def _helper_offer_expired(f: Facts) -> str:
    return f"{SIGNATURE}您的派单{_case(f)}已超时失效，您无需前往。"


def _helper_offer_withdrawn(f: Facts) -> str:
    why = _why(f) or "值班台已另行安排"
    return f"{SIGNATURE}您的派单{_case(f)}已撤回：{why}，您无需前往。"


def _helper_stood_down(f: Facts) -> str:
    if f.reason == "false_alarm":
        return f"{SIGNATURE}事件{_case(f)}经核实为误报，已结案，请不要再前往，谢谢您。"
    # Taken off by an operator (the reason is their note, not for the helper) or, without a
    # reason, any other stand-down: true in every case, and clear that they must not come.
    return f"{SIGNATURE}值班台已撤回您{_case(f)}的派单，请不要再前往，谢谢您。"


def _helper_closed(f: Facts) -> str:
    outcome = _clip(f.outcome or "已处理", _OUTCOME_CHARS)
    return f"{SIGNATURE}事件{_case(f)}已由值班台结案：{outcome}。谢谢您的帮助！"


# ---- the family -----------------------------------------------------------------------------


def _family_received(f: Facts) -> str:
    return (
        f"{SIGNATURE}{_elder(f)}于{_hhmm(f.at)}发出求助（{short_what(f.kind, f.summary)}），"
        "呼叫中心已收到，正在安排服务人员，请保持电话畅通。"
    )


def _family_on_the_way(f: Facts) -> str:
    phone = f"（电话{f.helper_phone}）" if f.helper_phone else ""  # never cut: a wrong number
    eta = f"，预计{_hhmm(f.eta_at)}前后到达" if f.eta_at is not None else ""
    return f"{SIGNATURE}{_elder(f)}的求助：服务人员{_helper(f)}{phone}已出发{eta}。"


def _family_helper_changed(f: Facts) -> str:
    return (
        f"{SIGNATURE}{_elder(f)}的求助：原服务人员{_helper(f)}不再前往，"
        "呼叫中心正在另行安排，请保持电话畅通。"
    )


def _family_arrived(f: Facts) -> str:
    return f"{SIGNATURE}服务人员{_helper(f)}已于{_hhmm(f.at)}到达{_elder(f)}身边。"


def _family_closed(f: Facts) -> str:
    outcome = _clip(f.outcome or "已完成", _OUTCOME_CHARS)
    return f"{SIGNATURE}{_elder(f)}的求助已处理完毕：{outcome}。"


def _family_false_alarm(f: Facts) -> str:
    return f"{SIGNATURE}{_elder(f)}于{_hhmm(f.at)}发出的求助经核实为误报，已取消。"


# ---- the device (shown or read aloud: no signature) -----------------------------------------


def _device_on_the_way(f: Facts) -> str:
    eta = f"，{_eta(f)}到达" if f.eta_min is not None else ""
    return f"服务人员{_helper(f)}已出发{eta}，请稍候"


def _device_arrived(f: Facts) -> str:
    return f"服务人员{_helper(f)}已到达"


# ---- supervisors ----------------------------------------------------------------------------


def _escalation(f: Facts) -> str:
    ask = _LEVEL_ZH.get(f.level or "", "需处理")
    why = _why(f) or "值班台升级"
    return _fit(
        lambda address: (
            f"{SIGNATURE}事件#{f.incident_id}{ask}：{_who(f)}{short_what(f.kind, f.summary)}，"
            f"{address}。原因：{why}，到场时限{_hhmm(f.deadline)}。"
        ),
        f.address,
    )


def _device_helper_changed(f: Facts) -> str:
    return "原服务人员不能前来，正在为您改派，请稍候"


def _device_cancelled(f: Facts) -> str:
    return "本次求助已取消。如仍需帮助，请再按呼救键"


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
        Purpose.DEVICE_HELPER_CHANGED: _device_helper_changed,
        Purpose.DEVICE_CANCELLED: _device_cancelled,
        Purpose.ESCALATION: _escalation,
    }
)


def render(purpose: Purpose, facts: Facts) -> str:
    """The text for ``purpose``; every Purpose has exactly one template."""
    return _TEMPLATES[purpose](facts)
