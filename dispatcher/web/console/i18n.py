"""Chinese first, English switchable: one dictionary, one ``t(key, **values)`` per request.

The language lives in a plain cookie (it is a preference, not a secret) so the sign-in page can
be switched before anyone is signed in. A missing key shows the key itself, never an error: a
console that fails to render over a translation gap would be worse than an odd label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import Request

LANG_COOKIE = "huyuan_lang"
Lang = Literal["zh", "en"]
Translate = Callable[..., str]

# key: (中文, English)
MESSAGES: dict[str, tuple[str, str]] = {
    "app.title": ("呼援 · 调度台", "Huyuan · Dispatch console"),
    "nav.queue": ("事件队列", "Queue"),
    "nav.helpers": ("助老员", "Helpers"),
    "nav.devices": ("设备", "Devices"),
    "nav.elders": ("老人档案", "Elders"),
    "nav.stats": ("统计", "Statistics"),
    "nav.signout": ("退出", "Sign out"),
    "lang.switch": ("English", "中文"),
    "role.operator": ("接警员", "Operator"),
    "role.supervisor": ("值班主管", "Supervisor"),
    "role.admin": ("管理员", "Admin"),
    # sign-in
    "login.title": ("登录调度台", "Sign in to the console"),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Sign in"),
    "login.failed": ("用户名或密码错误。", "Wrong user name or password."),
    "login.locked": (
        "登录失败次数过多，账号已暂时锁定，请在 {minutes} 分钟后再试，或联系管理员。",
        "Too many failed attempts: the account is locked for {minutes} more min, or ask an admin.",
    ),
    "login.missing": ("请输入用户名和密码。", "Enter your user name and password."),
    "error.csrf": (
        "表单已过期或来源不明，请刷新页面后重试。",
        "The form expired or did not come from this console; reload and try again.",
    ),
    "error.forbidden": (
        "您的角色无权执行此操作（需要：{role}）。",
        "Your role cannot do this (needs {role}).",
    ),
    "error.not_found": ("找不到：{what}", "Not found: {what}"),
    # queue
    "queue.title": ("实时事件队列", "Live incident queue"),
    "queue.empty": ("当前没有未结事件。", "No open incidents."),
    "queue.live": ("实时", "Live"),
    "queue.offline": ("连接中断，正在重连…", "Connection lost, reconnecting…"),
    "queue.sound_on": ("启用提示音", "Enable alert sound"),
    "queue.open_count": ("未结 {n}", "{n} open"),
    "queue.at_risk_count": ("风险 {n}", "{n} at risk"),
    "queue.breached_count": ("超时 {n}", "{n} breached"),
    "col.countdown": ("到场倒计时", "Arrival clock"),
    "col.elder": ("老人", "Elder"),
    "col.category": ("类别", "Category"),
    "col.kind": ("类型", "Type"),
    "col.state": ("状态", "State"),
    "col.helper": ("助老员", "Helper"),
    "col.sla": ("时限", "Promise"),
    "col.taken": ("接手人", "Taken by"),
    "col.opened": ("报警时间", "Raised"),
    "action.take": ("接手", "Take"),
    "action.open": ("查看", "Open"),
    "untaken": ("待接手", "Not taken"),
    "clock.arrived": ("已到场 · 用时 {n} 分钟", "arrived in {n} min"),
    "clock.overdue": ("超时", "overdue"),
    "category.emergency": ("紧急", "Emergency"),
    "category.general": ("一般求助", "General help"),
    "kind.sos": ("SOS 呼救", "SOS"),
    "kind.fall": ("跌倒", "Fall"),
    "kind.vitals": ("体征异常", "Vitals"),
    "kind.alarm": ("设备告警", "Alarm"),
    "kind.request": ("电话求助", "Request"),
    "state.open": ("待派单", "Open"),
    "state.offered": ("派单中", "Offered"),
    "state.assigned": ("已接单·途中", "Assigned"),
    "state.on_scene": ("已到场", "On scene"),
    "state.resolved": ("已办结", "Resolved"),
    "state.cancelled": ("误报·已取消", "Cancelled"),
    "sla.on_track": ("正常", "On track"),
    "sla.at_risk": ("有风险", "At risk"),
    "sla.breached": ("已超时", "Breached"),
    "sla.met": ("按时到场", "Met"),
    "sla.closed_unmeasured": ("不计时", "Not measured"),
    "code.eta_after_deadline": ("预计到达晚于时限", "ETA is after the deadline"),
    "code.no_candidate": ("附近没有可派的助老员", "No helper available nearby"),
    "code.not_accepted": ("派单未被及时接受", "Offer not accepted in time"),
    "code.deadline_passed": ("已过到场时限，助老员未到", "Deadline passed without arrival"),
    "code.arrived_late": ("助老员迟到", "Helper arrived late"),
    "code.false_alarm": ("误报", "False alarm"),
    "code.resolved_without_arrival": ("未到场即结案", "Closed without an arrival"),
    "device_cancelled": ("设备已取消报警", "Device cancelled"),
    "late_flag": ("迟到的报警", "Late report"),
    "unregistered": ("未登记设备", "Unregistered device"),
}


def language(request: Request) -> Lang:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "zh"


def translator(lang: Lang) -> Translate:
    index = 1 if lang == "en" else 0

    def t(key: str, **values: object) -> str:
        entry = MESSAGES.get(key)
        if entry is None:
            return key
        text = entry[index]
        return text.format(**values) if values else text

    return t


def has(key: str) -> bool:
    return key in MESSAGES


def register(messages: dict[str, tuple[str, str]]) -> None:
    """Each screen's module adds its own labels, so the dictionary lives next to its use."""
    clash = MESSAGES.keys() & messages.keys()
    if clash:
        raise ValueError(f"translation keys defined twice: {sorted(clash)}")
    MESSAGES.update(messages)


__all__ = [
    "LANG_COOKIE",
    "MESSAGES",
    "Lang",
    "Translate",
    "has",
    "language",
    "register",
    "translator",
]
