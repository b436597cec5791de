"""Timeline lines in the reader's language and time zone, from the codes the timeline stores.

The core records an action code and its parameters (``Record(actor, action, params)``), never a
sentence: "sla" with ``status``, ``code``, ``deadline``, ``eta_at``; "cannot_make_deadline"
with ``arrives_at`` and ``deadline``; "escalated" with ``level`` and ``code`` (or ``note`` and
``by_hand``)… This module turns one stored line into words::

    describe("cannot_make_deadline", {"arrives_at": ..., "deadline": ...}, "zh", tz)
    → "无人能按时到达：最快 08:21 到，时限 08:15"

Pure: no I/O, no clock. Times may be aware datetimes (straight from a ``Record``) or the ISO
strings the store keeps in its JSON column; a naive one is taken as UTC (the store's zone) and
shown as ``HH:MM`` in ``tz``. The actor is not part of the line (the console shows it apart).
A parameter that is missing is left out of the sentence rather than guessed, and an action this
module does not know is shown as its code with its parameters, never an error: a timeline that
fails to render over one odd line would hide all the others.

Free text that people typed (an operator's note or reason, an outcome, a summary) and the
readings in "abnormal_vitals" are shown as they were written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from types import MappingProxyType
from typing import Any, Literal

from dispatcher.core.notices import Purpose

__all__ = ["ACTIONS", "Lang", "describe"]

Lang = Literal["zh", "en"]

_SEP = {"zh": "；", "en": "; "}
_COLON = {"zh": "：", "en": ": "}

_CATEGORY = {"emergency": ("紧急", "emergency"), "general": ("一般求助", "general help")}
_KIND = {
    "sos": ("SOS 呼救", "SOS"),
    "fall": ("跌倒", "fall"),
    "vitals": ("体征异常", "abnormal vitals"),
    "alarm": ("设备告警", "device alarm"),
    "request": ("电话求助", "request"),
}
_STATUS = {
    "on_track": ("正常", "on track"),
    "at_risk": ("有风险", "at risk"),
    "breached": ("已超时", "breached"),
    "met": ("按时到场", "met"),
    "closed_unmeasured": ("不计时", "not measured"),
}
_LEVEL = {
    "operator": ("接警员", "the operators"),
    "supervisor": ("值班主管", "the supervisor"),
    "emergency_services": ("120急救（需呼叫120）", "emergency services (call 120)"),
}
_ALARM = {
    "low_battery": ("电量低", "low battery"),
    "removed": ("设备被摘下", "taken off"),
    "power_cut": ("断电", "power cut"),
    "geofence_exit": ("离开安全区域", "left the safe area"),
    "sim_changed": ("SIM 卡被更换", "SIM changed"),
    "tamper": ("设备被拆动", "tampered with"),
}
_PURPOSE: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        Purpose.HELPER_OFFER: ("派单短信", "offer SMS"),
        Purpose.HELPER_OFFER_EXPIRED: ("派单超时短信", "offer-expired SMS"),
        Purpose.HELPER_OFFER_WITHDRAWN: ("派单撤回短信", "offer-withdrawn SMS"),
        Purpose.HELPER_ASSIGNED: ("人工派单短信", "assignment SMS"),
        Purpose.HELPER_STOOD_DOWN: ("停止前往短信", "stand-down SMS"),
        Purpose.HELPER_CLOSED: ("结案短信（助老员）", "closing SMS to the helper"),
        Purpose.FAMILY_RECEIVED: ("家属：已收到求助", "family: call received"),
        Purpose.FAMILY_ON_THE_WAY: ("家属：助老员已出发", "family: helper on the way"),
        Purpose.FAMILY_HELPER_CHANGED: ("家属：更换助老员", "family: helper changed"),
        Purpose.FAMILY_ARRIVED: ("家属：助老员已到场", "family: helper arrived"),
        Purpose.FAMILY_CLOSED: ("家属：已办结", "family: closed"),
        Purpose.FAMILY_FALSE_ALARM: ("家属：误报", "family: false alarm"),
        Purpose.DEVICE_ON_THE_WAY: ("设备提示：已出发", "device prompt: on the way"),
        Purpose.DEVICE_ARRIVED: ("设备提示：已到场", "device prompt: arrived"),
        Purpose.DEVICE_HELPER_CHANGED: ("设备提示：改派中", "device prompt: helper changed"),
        Purpose.DEVICE_CANCELLED: ("设备提示：已取消", "device prompt: cancelled"),
        Purpose.ESCALATION: ("升级通知", "escalation SMS"),
    }
)
_VITALS_ZH = (
    ("blood pressure", "血压"),
    ("heart rate", "心率"),
    ("temperature", "体温"),
    ("systolic", "收缩压"),
    ("SpO2", "血氧"),
)


class _Line:
    """One stored line's parameters, read in the reader's language and zone."""

    def __init__(self, detail: Mapping[str, Any], lang: Lang, tz: tzinfo) -> None:
        self.d = detail
        self.lang = lang
        self.tz = tz

    def say(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def pick(self, table: Mapping[str, tuple[str, str]], value: Any) -> str:
        pair = table.get(str(value))
        return str(value) if pair is None else pair[0 if self.lang == "zh" else 1]

    def text(self, key: str) -> str | None:
        value = self.d.get(key)
        return None if value is None or str(value).strip() == "" else str(value)

    def time(self, key: str) -> str | None:
        """The parameter as local ``HH:MM``; None when missing or unreadable."""
        value = self.d.get(key)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return None
        if not isinstance(value, datetime):
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(self.tz).strftime("%H:%M")

    def helper(self, *, first: bool = False) -> str:
        """The helper's name, else their id; ``first`` capitalises it to start a sentence."""
        name = self.text("helper_name")
        if name is not None:
            return name
        helper_id = self.d.get("helper_id")
        if helper_id is None:
            who = self.say("助老员", "the helper")
        else:
            who = self.say(f"助老员#{helper_id}", f"helper #{helper_id}")
        return who[:1].upper() + who[1:] if first else who

    def items(self, *keys: str) -> list[str]:
        for key in keys:
            value = self.d.get(key)
            if isinstance(value, list | tuple):
                return [str(v) for v in value]
            if isinstance(value, str) and value:
                return [value]
        return []

    def join(self, head: str, *parts: str | None) -> str:
        """``head``, then the parts that are known, after a colon and between separators."""
        known = [p for p in parts if p]
        return head + _COLON[self.lang] + _SEP[self.lang].join(known) if known else head


# ---- one sentence per action ----------------------------------------------------------------


def _created(p: _Line) -> str:
    what = " · ".join(
        p.pick(table, p.d[key])
        for key, table in (("category", _CATEGORY), ("kind", _KIND))
        if key in p.d
    )
    deadline = p.time("deadline")
    flags = [
        p.say("未登记设备", "unregistered device") if p.d.get("unregistered") else None,
        p.say("迟到的报警", "late report") if p.d.get("late") else None,
        (
            p.say(
                f"设备时钟不可信（{p.d['clock_rejected']}）",
                f"device clock distrusted ({p.d['clock_rejected']})",
            )
            if p.text("clock_rejected")
            else None
        ),
    ]
    return p.join(
        p.say("接警", "Raised"),
        what or None,
        p.say(f"到场时限 {deadline}", f"on scene by {deadline}") if deadline else None,
        *flags,
    )


def _no_location(p: _Line) -> str:
    return p.say("没有位置，无法自动派单", "No location: nobody can be sent automatically")


def _no_candidate(p: _Line) -> str:
    return p.say("附近没有空闲的助老员，稍后再试", "No free helper nearby; trying again shortly")


def _distance(p: _Line) -> str | None:
    metres = p.d.get("distance_m")
    if not isinstance(metres, int | float):
        return None
    if metres < 1000:
        return p.say(f"距离 {round(metres)} 米", f"{round(metres)} m away")
    return p.say(f"距离 {metres / 1000:.1f} 公里", f"{metres / 1000:.1f} km away")


def _offered(p: _Line) -> str:
    eta = p.d.get("eta_min")
    in_time = p.d.get("can_make_deadline")
    expires = p.time("expires_at")
    return p.join(
        p.say(f"派单给{p.helper()}", f"Offered to {p.helper()}"),
        _distance(p),
        p.say(f"约 {eta} 分钟到达", f"about {eta} min") if eta is not None else None,
        None
        if in_time is None
        else p.say("能按时到", "in time")
        if in_time
        else p.say("会迟到", "late"),
        p.say(f"{expires} 前答复", f"answer by {expires}") if expires else None,
    )


def _cannot_make_deadline(p: _Line) -> str:
    arrives, deadline = p.time("arrives_at"), p.time("deadline")
    return p.join(
        p.say("无人能按时到达", "Nobody can make the deadline"),
        p.say(f"最快 {arrives} 到", f"soonest arrival {arrives}") if arrives else None,
        p.say(f"时限 {deadline}", f"deadline {deadline}") if deadline else None,
    )


def _reason(p: _Line, code: str | None) -> str | None:
    """An SLA reason code as a sentence, with the times it refers to."""
    if code is None:
        return p.text("reason")  # lines written before codes: the stored English sentence
    eta, deadline = p.time("eta_at"), p.time("deadline")
    reasons: dict[str, tuple[str, str]] = {
        "eta_after_deadline": (
            f"预计 {eta} 到达，晚于时限 {deadline}" if eta and deadline else "预计到达晚于时限",
            f"ETA {eta} is after the deadline {deadline}"
            if eta and deadline
            else "the ETA is after the deadline",
        ),
        "deadline_passed": (
            f"已过到场时限 {deadline}，助老员未到" if deadline else "已过到场时限，助老员未到",
            f"deadline {deadline} passed without arrival"
            if deadline
            else "the deadline passed without arrival",
        ),
        "no_candidate": ("附近没有可派的助老员", "no helper available nearby"),
        "not_accepted": ("派单未被及时接受", "nobody accepted in time"),
        "arrived_late": ("助老员迟到", "the helper arrived late"),
        "false_alarm": ("误报", "false alarm"),
        "resolved_without_arrival": ("未到场即结案", "closed without an arrival"),
    }
    return p.pick(reasons, code)


def _sla(p: _Line) -> str:
    status = p.pick(_STATUS, p.d.get("status", "?"))
    return p.join(
        p.say(f"时限状态转为{status}", f"Promise now {status}"), _reason(p, p.text("code"))
    )


def _escalated(p: _Line) -> str:
    level = p.pick(_LEVEL, p.d.get("level", "?"))
    if p.d.get("by_hand"):
        return p.join(p.say(f"人工升级至{level}", f"Escalated by hand to {level}"), p.text("note"))
    why = _reason(p, p.text("code"))
    return p.join(p.say(f"升级至{level}", f"Escalated to {level}"), why)


def _offer_expired(p: _Line) -> str:
    return p.say(
        f"{p.helper()}未及时答复，派单失效", f"{p.helper(first=True)} did not answer in time"
    )


def _declined(p: _Line) -> str:
    return p.say(f"{p.helper()}拒单", f"{p.helper(first=True)} declined")


def _sets_off(p: _Line, zh: str, en: str) -> str:
    eta = p.time("eta_at")
    return p.join(
        p.say(zh, en), p.say(f"预计 {eta} 到达", f"arriving about {eta}") if eta else None
    )


def _accepted(p: _Line) -> str:
    return _sets_off(p, f"{p.helper()}已接单", f"{p.helper(first=True)} accepted")


def _assigned_by_operator(p: _Line) -> str:
    return _sets_off(p, f"人工派单给{p.helper()}", f"Assigned by hand to {p.helper()}")


def _helper_withdrawn(p: _Line) -> str:
    return p.join(p.say(f"撤回{p.helper()}", f"Withdrew {p.helper()}"), p.text("reason"))


def _arrived(p: _Line) -> str:
    minutes = p.d.get("minutes_after_call")
    return p.join(
        p.say(f"{p.helper()}到场", f"{p.helper(first=True)} arrived"),
        p.say(f"报警后 {minutes:g} 分钟", f"{minutes:g} min after the call")
        if isinstance(minutes, int | float)
        else None,
    )


def _resolved(p: _Line) -> str:
    return p.join(p.say("办结", "Resolved"), p.text("outcome"))


def _false_alarm(p: _Line) -> str:
    return p.join(p.say("确认误报并结案", "Confirmed a false alarm and closed"), p.text("note"))


def _device_cancelled(p: _Line) -> str:
    return p.say("设备发来取消，待接警员确认", "The device sent a cancel; an operator must confirm")


def _repeat_press(p: _Line) -> str:
    return p.join(p.say("再次按键", "Pressed again"), p.text("summary"))


def _device_alarm(p: _Line) -> str:
    alarms = [p.pick(_ALARM, a) for a in p.items("items", "alarms")]
    return p.join(p.say("设备告警", "Device alarm"), p.say("、", ", ").join(alarms) or None)


def _abnormal_vitals(p: _Line) -> str:
    findings = p.items("items", "findings")
    if p.lang == "zh":
        for en, zh in _VITALS_ZH:
            findings = [f.replace(en, zh) for f in findings]
    return p.join(p.say("体征异常", "Abnormal vitals"), _SEP[p.lang].join(findings) or None)


def _note(p: _Line) -> str:
    return p.join(p.say("备注", "Note"), p.text("text"))


def _taken(p: _Line) -> str:
    who = (p.text("text") or "").removeprefix("taken by ").strip()
    return p.say(f"{who}接手", f"Taken by {who}") if who else p.say("已接手", "Taken")


def _nobody_told(p: _Line) -> str:
    purpose = p.pick(_PURPOSE, p.d.get("purpose", "?"))
    return p.say(
        f"无人可通知（{purpose}）：未配置号码", f"Nobody to tell ({purpose}): no number configured"
    )


def _timer_failed(p: _Line) -> str:
    kind = str(p.d.get("kind", "?"))
    return p.say(
        f"计时器{kind}处理失败，已搁置并记录", f"Timer {kind} failed; set aside and logged"
    )


def _notification_failed(p: _Line) -> str:
    purpose = p.pick(_PURPOSE, p.d.get("purpose", "?"))
    return p.join(
        p.say(f"通知未送达（{purpose}）", f"Notification not delivered ({purpose})"),
        p.text("recipient"),
        p.text("error"),
    )


ACTIONS: Mapping[str, Callable[[_Line], str]] = MappingProxyType(
    {
        "created": _created,
        "no_location": _no_location,
        "no_candidate": _no_candidate,
        "offered": _offered,
        "cannot_make_deadline": _cannot_make_deadline,
        "sla": _sla,
        "escalated": _escalated,
        "offer_expired": _offer_expired,
        "declined": _declined,
        "accepted": _accepted,
        "assigned_by_operator": _assigned_by_operator,
        "helper_withdrawn": _helper_withdrawn,
        "arrived": _arrived,
        "resolved": _resolved,
        "false_alarm": _false_alarm,
        "device_cancelled": _device_cancelled,
        "repeat_press": _repeat_press,
        "device_alarm": _device_alarm,
        "abnormal_vitals": _abnormal_vitals,
        "note": _note,
        "taken": _taken,
        "nobody_told": _nobody_told,
        "notification_failed": _notification_failed,
        "timer_failed": _timer_failed,
    }
)
"""Every action the core, the workflow, ingest, the applier, the outbox and the console record."""


def describe(action: str, detail: Mapping[str, Any], lang: Lang, tz: tzinfo) -> str:
    """One timeline line in ``lang`` ("zh" or "en"), clock times as local ``HH:MM`` in ``tz``."""
    line = _Line(detail, lang, tz)
    render = ACTIONS.get(action)
    if render is not None:
        return render(line)
    params = ", ".join(f"{k}={v}" for k, v in sorted(detail.items()) if v is not None)
    return f"{action} ({params})" if params else action
