"""Timeline lines from stored codes: Chinese or English, clock times in the reader's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dispatcher.core import (
    Accept,
    Arrive,
    AssignByHand,
    Decline,
    DeviceAlarm,
    DeviceCancel,
    Escalate,
    EscalateByHand,
    FalseAlarm,
    OfferExpired,
    Purpose,
    Reassess,
    Record,
    RepeatPress,
    Resolve,
    Withdraw,
)
from dispatcher.timeline_text import ACTIONS, describe
from sla import Level
from tests.dispatcher.core.harness import H1, H2, H3, OPERATOR, Run, of_type

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
MIN = timedelta(minutes=1)
DECIDE = Path(__file__).parents[2] / "dispatcher" / "core" / "decide.py"

# Lines the shell writes itself, outside the core: ingest (alarms and vitals on an open
# incident, with their own parameter names), the workflow and console (notes, "taken"), the
# applier (no supervisor phone configured) and the outbox (a message that failed for good).
SHELL_LINES: list[tuple[str, dict[str, object]]] = [
    ("device_alarm", {"alarms": ["low_battery", "removed"]}),
    ("abnormal_vitals", {"findings": ["heart rate 150 bpm (> 120)", "SpO2 85% (< 90%)"]}),
    ("note", {"text": "已致电家属"}),
    ("taken", {"text": "taken by 王芳"}),
    ("nobody_told", {"purpose": "escalation"}),
    (
        "notification_failed",
        {"outbox_id": 3, "purpose": "family_received", "recipient": "+8613900000001", "error": "x"},
    ),
]


def full_life() -> list[Record]:
    """Every kind of line the core writes, from incidents driven through all their events."""
    run = Run.open((H1, 20), (H2, 8))
    run.on(OfferExpired(offer_id=run.offer_id(H1)), (H2, 8), after=MIN)
    run.on(Decline(helper_id=H2, actor="helper:2"), (H3, 6))
    run.on(Accept(helper_id=H3, eta=6 * MIN, actor="helper:3"))
    run.on(Withdraw(reason="car broke down", actor=OPERATOR))
    run.on(AssignByHand(helper_id=H2, eta=5 * MIN, actor=OPERATOR))
    run.on(RepeatPress(summary="SOS again", actor="device:x"))
    run.on(DeviceAlarm(action="device_alarm", items=("low_battery",), actor="device:x"))
    run.on(DeviceAlarm(action="abnormal_vitals", items=("SpO2 85% (< 90%)",), actor="device:x"))
    run.on(DeviceCancel(actor="device:x"))
    run.on(EscalateByHand(level=Level.SUPERVISOR, actor=OPERATOR, note="no answer"))
    run.on(Reassess(), after=20 * MIN)
    run.on(Escalate(level=Level.EMERGENCY_SERVICES), after=5 * MIN)
    run.on(Arrive(helper_id=H2, actor="helper:2"))
    run.on(Resolve(helper_id=None, outcome="taken to hospital", actor=OPERATOR))
    nowhere = Run.open(lat=None, lon=None)
    nowhere.on(FalseAlarm(actor=OPERATOR, note="pressed by mistake"))
    return [r for run_ in (run, nowhere) for d in run_.decisions for r in of_type(d, Record)]


def test_every_action_the_core_records_has_a_sentence() -> None:
    """Each action string in decide.py, and each one a full run records, is rendered by name."""
    in_source = set(re.findall(r'record\(\s*[\w.]+,\s*"(\w+)"', DECIDE.read_text("utf-8")))
    assert in_source  # the pattern still finds the calls
    recorded = {r.action for r in full_life()}
    assert in_source <= recorded | {"device_alarm", "abnormal_vitals"}
    assert (in_source | recorded) <= ACTIONS.keys()


def test_every_action_the_shell_records_has_a_sentence() -> None:
    """Ingest's, the workflow's, the console's, the applier's and the outbox's lines are known."""
    assert {action for action, _ in SHELL_LINES} <= ACTIONS.keys()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_line_of_a_full_run_reads_in_the_readers_language(lang: str) -> None:
    """Chinese lines have Chinese; English lines (with English free text) have none."""
    for record in full_life():
        line = describe(record.action, record.params, "zh" if lang == "zh" else "en", SHANGHAI)
        assert line and not line.startswith(record.action), line  # not the raw fallback
        has_cjk = bool(re.search(r"[\u4e00-\u9fff]", line))
        assert has_cjk is (lang == "zh"), line


def test_shell_lines_read_in_both_languages() -> None:
    """Alarms are named, vitals translated, failures name what was not delivered."""
    zh = {a: describe(a, d, "zh", SHANGHAI) for a, d in SHELL_LINES}
    en = {a: describe(a, d, "en", SHANGHAI) for a, d in SHELL_LINES}
    assert zh["device_alarm"] == "设备告警：电量低、设备被摘下"
    assert en["device_alarm"] == "Device alarm: low battery, taken off"
    assert zh["abnormal_vitals"] == "体征异常：心率 150 bpm (> 120)；血氧 85% (< 90%)"
    assert en["abnormal_vitals"] == "Abnormal vitals: heart rate 150 bpm (> 120); SpO2 85% (< 90%)"
    assert zh["note"] == "备注：已致电家属"
    assert (zh["taken"], en["taken"]) == ("王芳接手", "Taken by 王芳")
    assert zh["nobody_told"] == "无人可通知（升级通知）：未配置号码"
    assert en["notification_failed"] == (
        "Notification not delivered (family: call received): +8613900000001; x"
    )


def test_the_sla_reason_names_both_times_in_local_time() -> None:
    """ "ETA after the deadline" shows both clock times on the reader's clock, not UTC."""
    detail = {
        "status": "at_risk",
        "code": "eta_after_deadline",
        "deadline": T0 + 15 * MIN,
        "eta_at": T0 + 21 * MIN,
    }
    assert describe("sla", detail, "zh", SHANGHAI) == (
        "时限状态转为有风险：预计 08:21 到达，晚于时限 08:15"
    )
    assert describe("sla", detail, "en", SHANGHAI) == (
        "Promise now at risk: ETA 08:21 is after the deadline 08:15"
    )
    assert "00:21" in describe("sla", detail, "en", UTC)


def test_times_stored_as_iso_strings_are_read_back() -> None:
    """The store keeps datetimes as ISO strings in JSON: they render like the datetimes."""
    detail = {"arrives_at": "2026-11-23T00:21:00+00:00", "deadline": "2026-11-23T00:15:00+00:00"}
    assert describe("cannot_make_deadline", detail, "zh", SHANGHAI) == (
        "无人能按时到达：最快 08:21 到；时限 08:15"
    )
    assert describe("cannot_make_deadline", detail, "en", SHANGHAI) == (
        "Nobody can make the deadline: soonest arrival 08:21; deadline 08:15"
    )


def test_a_naive_stored_time_is_taken_as_utc() -> None:
    """A time without an offset is the store's UTC, shown in the reader's zone."""
    detail = {"helper_id": 3, "eta_at": "2026-11-23T00:07:00"}
    assert describe("accepted", detail, "zh", SHANGHAI) == "助老员#3已接单：预计 08:07 到达"


def test_a_helper_is_named_when_the_applier_added_the_name() -> None:
    """The applier stores the helper's name with the id; the line uses it."""
    detail = {"helper_id": 3, "helper_name": "黄少卿", "eta_at": T0 + 7 * MIN}
    assert describe("accepted", detail, "en", SHANGHAI) == "黄少卿 accepted: arriving about 08:07"
    assert describe("declined", {"helper_id": 3}, "en", SHANGHAI) == "Helper #3 declined"


def test_escalation_lines_say_to_whom_and_why() -> None:
    """An automatic escalation gives the level and the reason; one by hand gives the note."""
    auto = {"level": "emergency_services", "code": "deadline_passed"}
    assert describe("escalated", auto, "zh", SHANGHAI) == (
        "升级至120急救（需呼叫120）：已过到场时限，助老员未到"
    )
    by_hand = {"level": "supervisor", "note": "老人无应答", "by_hand": True}
    assert describe("escalated", by_hand, "en", SHANGHAI) == (
        "Escalated by hand to the supervisor: 老人无应答"
    )


def test_the_opening_line_gives_what_and_by_when_with_its_flags() -> None:
    """Created: category, kind, the local deadline, and the unregistered and late flags."""
    detail = {
        "category": "emergency",
        "kind": "fall",
        "deadline": T0 + 15 * MIN,
        "unregistered": True,
        "late": True,
    }
    assert describe("created", detail, "zh", SHANGHAI) == (
        "接警：紧急 · 跌倒；到场时限 08:15；未登记设备；迟到的报警"
    )
    assert describe("created", detail, "en", SHANGHAI) == (
        "Raised: emergency · fall; on scene by 08:15; unregistered device; late report"
    )


def test_an_offer_line_gives_distance_eta_and_answer_time() -> None:
    """Offered: to whom, how far, how long, in time or not, and until when they may answer."""
    detail = {
        "helper_id": 1,
        "helper_name": "黄少卿",
        "distance_m": 350,
        "eta_min": 7,
        "can_make_deadline": True,
        "expires_at": T0 + MIN,
    }
    assert describe("offered", detail, "zh", SHANGHAI) == (
        "派单给黄少卿：距离 350 米；约 7 分钟到达；能按时到；08:01 前答复"
    )
    far = {**detail, "distance_m": 4200, "can_make_deadline": False}
    assert describe("offered", far, "en", SHANGHAI) == (
        "Offered to 黄少卿: 4.2 km away; about 7 min; late; answer by 08:01"
    )


def test_missing_parameters_are_left_out_not_invented() -> None:
    """A line without its times or names still reads, and shows no made-up value."""
    assert describe("sla", {"status": "at_risk", "code": "eta_after_deadline"}, "zh", UTC) == (
        "时限状态转为有风险：预计到达晚于时限"
    )
    assert describe("cannot_make_deadline", {}, "en", UTC) == "Nobody can make the deadline"
    assert describe("arrived", {}, "en", UTC) == "The helper arrived"
    assert describe("resolved", {"outcome": "  "}, "zh", UTC) == "办结"


def test_a_line_written_before_codes_shows_its_stored_sentence() -> None:
    """Old rows carry an English reason and no code: the sentence is shown rather than lost."""
    old = {"status": "at_risk", "reason": "best ETA 21:50 is after the deadline 21:48"}
    assert describe("sla", old, "en", UTC) == (
        "Promise now at risk: best ETA 21:50 is after the deadline 21:48"
    )


def test_an_unknown_action_shows_its_code_and_parameters() -> None:
    """A line this module does not know yet is shown raw, never an error."""
    assert describe("gateway_restarted", {"port": 7700, "x": None}, "zh", UTC) == (
        "gateway_restarted (port=7700)"
    )
    assert describe("mystery", {}, "en", UTC) == "mystery"


def test_an_unreadable_time_is_left_out() -> None:
    """A corrupt time parameter is dropped from the sentence, not shown or raised."""
    assert describe("accepted", {"helper_id": 1, "eta_at": "soon"}, "en", UTC) == (
        "Helper #1 accepted"
    )


@pytest.mark.parametrize("purpose", list(Purpose))
def test_every_purpose_is_named_in_notification_lines(purpose: Purpose) -> None:
    """A failed or undeliverable notice names its purpose in words, in both languages."""
    zh = describe("nobody_told", {"purpose": purpose.value}, "zh", UTC)
    en = describe("nobody_told", {"purpose": purpose.value}, "en", UTC)
    assert f"（{purpose.value}）" not in zh
    assert f"({purpose.value})" not in en
