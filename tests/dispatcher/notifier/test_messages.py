"""Every message a person receives: one per purpose, Chinese first, local time, two segments."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dispatcher.core import Purpose
from dispatcher.notifier.messages import (
    NAME_CHARS,
    REASON_ZH,
    Facts,
    render,
)
from dispatcher.notifier.texts import SIGNATURE, amap_link, sms_segments

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


def local(minutes: float) -> datetime:
    """``minutes`` after the press, as the applier hands it over: Shanghai local time."""
    return (T0 + timedelta(minutes=minutes)).astimezone(SHANGHAI)


DEVICE_PURPOSES = {p for p in Purpose if p.value.startswith("device_")}
SMS_PURPOSES = [p for p in Purpose if p not in DEVICE_PURPOSES]
TIMED: dict[Purpose, tuple[str, str]] = {
    # purpose: the local clock time it must show, and the same instant in UTC it must not
    Purpose.HELPER_OFFER: ("08:15", "00:15"),  # the deadline
    Purpose.HELPER_ASSIGNED: ("08:15", "00:15"),
    Purpose.FAMILY_RECEIVED: ("08:00", "00:00"),  # the press
    Purpose.FAMILY_ON_THE_WAY: ("08:09", "00:09"),  # the ETA
    Purpose.FAMILY_ARRIVED: ("08:00", "00:00"),
    Purpose.FAMILY_FALSE_ALARM: ("08:00", "00:00"),
    Purpose.ESCALATION: ("08:15", "00:15"),
}
NOT_TO_COME = {
    Purpose.HELPER_OFFER_EXPIRED,
    Purpose.HELPER_OFFER_WITHDRAWN,
    Purpose.HELPER_STOOD_DOWN,
}


def facts(**overrides: Any) -> Facts:
    """A typical emergency in Shantou: an 82-year-old's fall, her helper 8 minutes away."""
    fields: dict[str, Any] = {
        "incident_id": 1234,
        "category": "emergency",
        "kind": "fall",
        "summary": "跌倒报警 Fall detected",
        "elder_name": "陈秀英",
        "elder_age": 82,
        "address": "汕头市龙湖区金涛社区3栋201房",
        "deadline": local(15),
        "lat": 23.37,
        "lon": 116.70,
        "helper_name": "黄少卿",
        "helper_phone": "+8613700000001",
        "eta_at": local(9),
        "eta_min": 8,
        "at": local(0),
        "accept_code": "4821",
        "outcome": "已送医",
        "level": "supervisor",
    }
    fields.update(overrides)
    return Facts(**fields)


LONG_ADDRESS = "广东省汕头市龙湖区" + "金霞街道金涛社区" * 35 + "3栋2单元401室"  # 300 characters
WORST = facts(
    incident_id=9_999_999,
    elder_name="阿卜杜热合曼" * 17,  # 102: past the 100 of the column
    elder_age=105,
    address=LONG_ADDRESS[:300],
    helper_name="欧阳" * 50,
    helper_phone="+86 754 8888 8888 ext 123",
    kind="request",
    summary="帮忙" * 150,
    category="general",
    eta_min=59,
    outcome="已送医院，" * 60,
    how_to_answer="接单请回复“1 4821”",
)


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# ---- every purpose --------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", list(Purpose))
def test_every_purpose_renders(purpose: Purpose) -> None:
    """No purpose is missing a template, and none renders an empty text."""
    assert render(purpose, facts()).strip()


@pytest.mark.parametrize("purpose", list(Purpose))
def test_texts_are_chinese_first(purpose: Purpose) -> None:
    """SMS start with the carrier signature, then Chinese; device prompts are Chinese at once."""
    text = render(purpose, facts())
    first = text.splitlines()[0]
    if purpose in DEVICE_PURPOSES:
        assert has_chinese(first[0])
    else:
        assert text.startswith(SIGNATURE)
        assert has_chinese(first[len(SIGNATURE)])
    assert all(has_chinese(line) for line in text.splitlines() if "amap.com" not in line)


@pytest.mark.parametrize(("purpose", "clocks"), list(TIMED.items()), ids=list(TIMED))
def test_times_are_local(purpose: Purpose, clocks: tuple[str, str]) -> None:
    """Clock times are the facts' own (Shanghai) wall clock, never UTC."""
    text = render(purpose, facts())
    shown, utc = clocks
    assert shown in text
    assert utc not in text


@pytest.mark.parametrize("purpose", SMS_PURPOSES)
@pytest.mark.parametrize("case", ["typical", "worst"])
def test_sms_fit_in_two_segments(purpose: Purpose, case: str) -> None:
    """With the longest names, address, summary and outcome the columns allow: two segments."""
    text = render(purpose, facts() if case == "typical" else WORST)
    assert sms_segments(text) <= 2, f"{sms_segments(text)} segments, {len(text)} chars: {text}"


@pytest.mark.parametrize("reason", [*REASON_ZH, None, "电话联系不上，改派" * 10])
@pytest.mark.parametrize(
    "purpose",
    [Purpose.HELPER_OFFER_WITHDRAWN, Purpose.HELPER_STOOD_DOWN, Purpose.ESCALATION],
)
def test_every_reason_fits(purpose: Purpose, reason: str | None) -> None:
    """Whatever the reason, the worst case stays within two segments."""
    text = render(purpose, dataclasses.replace(WORST, reason=reason))
    assert sms_segments(text) <= 2


@pytest.mark.parametrize("level", ["operator", "supervisor", "emergency_services"])
def test_every_escalation_level_fits(level: str) -> None:
    """Each level's escalation stays within two segments at worst."""
    assert sms_segments(render(Purpose.ESCALATION, dataclasses.replace(WORST, level=level))) <= 2


@pytest.mark.parametrize("purpose", sorted(DEVICE_PURPOSES))
def test_device_prompts_are_short(purpose: Purpose) -> None:
    """A device shows or reads its prompt on a tiny screen: one segment's worth at worst."""
    assert len(render(purpose, WORST)) <= 30


@pytest.mark.parametrize("purpose", list(Purpose))
def test_no_text_asks_for_a_reply_without_a_reply_path(purpose: Purpose) -> None:
    """Nobody is told to reply by SMS unless the deployment says how (no reply handler yet)."""
    assert "回复" not in render(purpose, facts(how_to_answer=None))


def test_the_offer_says_how_to_answer_when_the_deployment_does() -> None:
    """A configured way to answer is carried in full, and only in the offer."""
    answer = "接单请回复“1 4821”"
    assert answer in render(Purpose.HELPER_OFFER, facts(how_to_answer=answer))
    others = [p for p in Purpose if p != Purpose.HELPER_OFFER]
    assert all("回复" not in render(p, facts(how_to_answer=answer)) for p in others)


# ---- what each says -------------------------------------------------------------------------


def test_the_offer_says_who_where_what_by_when_and_links_the_map() -> None:
    """The offer names the elder and age, the event, the address, the deadline, the ETA, the map."""
    text = render(Purpose.HELPER_OFFER, facts())
    for fact in (
        "陈秀英",
        "82岁",
        "跌倒",
        "汕头市龙湖区金涛社区3栋201房",
        "08:15",
        "8分钟",
        "#1234",
    ):
        assert fact in text
    assert text.startswith(f"{SIGNATURE}紧急#1234")
    assert text.splitlines()[-1] == amap_link(23.37, 116.70)


def test_an_offer_without_a_location_has_no_link() -> None:
    """Without coordinates there is no map link rather than a wrong one."""
    text = render(Purpose.HELPER_OFFER, facts(lat=None, lon=None))
    assert "amap" not in text


def test_a_general_request_is_not_labelled_an_emergency() -> None:
    """General help says what is needed and never 紧急, and no age when none is known."""
    text = render(
        Purpose.HELPER_OFFER,
        facts(category="general", kind="request", summary="买菜 groceries", elder_age=None),
    )
    assert text.startswith(f"{SIGNATURE}求助#1234")
    assert "买菜" in text
    assert "紧急" not in text
    assert "岁" not in text


def test_long_names_are_cut_with_an_ellipsis() -> None:
    """A 100-character name shows its first characters and an ellipsis; short names are whole."""
    text = render(Purpose.FAMILY_ON_THE_WAY, WORST)
    assert "阿卜杜热合曼阿…" in text
    assert "阿卜杜热合曼阿卜杜" not in text
    assert "欧阳欧阳欧阳欧…" in text
    assert len("阿卜杜热合曼阿…") == NAME_CHARS


def test_a_long_address_keeps_its_end_the_building_and_room() -> None:
    """The province and district give way; the unit and room a helper needs stay."""
    text = render(Purpose.HELPER_OFFER, WORST)
    assert "…" in text
    assert "3栋2单元401室" in text
    assert "广东省" not in text


def test_a_typical_address_is_whole() -> None:
    """An address that fits is not cut."""
    for purpose in (Purpose.HELPER_OFFER, Purpose.HELPER_ASSIGNED, Purpose.ESCALATION):
        assert "汕头市龙湖区金涛社区3栋201房" in render(purpose, facts())


def test_the_family_hears_who_is_coming_their_phone_and_when() -> None:
    """On the way: the helper's name, their phone, and the local ETA."""
    text = render(Purpose.FAMILY_ON_THE_WAY, facts())
    assert "黄少卿" in text
    assert "+8613700000001" in text
    assert "08:09" in text
    assert "已出发" in text


def test_the_family_on_the_way_without_an_eta_makes_none_up() -> None:
    """Without an ETA the family hears the helper left, and no invented time."""
    text = render(Purpose.FAMILY_ON_THE_WAY, facts(eta_at=None))
    assert "已出发" in text
    assert "预计" not in text
    assert not re.search(r"\d\d:\d\d", text)


@pytest.mark.parametrize("purpose", sorted(NOT_TO_COME))
@pytest.mark.parametrize("reason", [None, "reassigned", "false_alarm", "电话联系不上"])
def test_stood_down_helpers_are_told_not_to_come(purpose: Purpose, reason: str | None) -> None:
    """Expired, withdrawn or stood down: the helper reads plainly that they must not come."""
    text = render(purpose, facts(reason=reason))
    assert "不要再前往" in text or "无需前往" in text
    assert "#1234（陈秀英）" in text  # which case, in words the helper recognises


def test_a_helper_stood_down_for_a_false_alarm_is_told_so() -> None:
    """A false alarm is named as such to the helper on the way."""
    assert "误报" in render(Purpose.HELPER_STOOD_DOWN, facts(reason="false_alarm"))


def test_a_stand_down_without_a_reason_claims_no_reassignment() -> None:
    """Without a reason the helper is not told someone else was sent (that may be untrue)."""
    text = render(Purpose.HELPER_STOOD_DOWN, facts(reason=None))
    assert "他人" not in text
    assert "误报" not in text


def test_an_operators_own_words_are_not_texted_to_the_helper() -> None:
    """A withdraw reason is the operator's note for the timeline, not an SMS to the helper."""
    text = render(Purpose.HELPER_STOOD_DOWN, facts(reason="他今天状态不好"))
    assert "状态不好" not in text


def test_an_expired_offer_does_not_claim_someone_else_was_sent() -> None:
    """After an expiry the next offer may find nobody: the text only says the offer lapsed."""
    text = render(Purpose.HELPER_OFFER_EXPIRED, facts())
    assert "超时" in text
    assert "他人" not in text


def test_a_withdrawn_offer_gives_the_coded_reason() -> None:
    """An offer overridden by a hand assignment says so."""
    text = render(Purpose.HELPER_OFFER_WITHDRAWN, facts(reason="reassigned"))
    assert "改派" in text


def test_the_family_is_told_of_a_change_of_helper() -> None:
    """When the helper is taken off the family hears who is no longer coming."""
    text = render(Purpose.FAMILY_HELPER_CHANGED, facts())
    assert "黄少卿" in text
    assert "不再前往" in text
    assert "已出发" not in text


def test_closing_and_false_alarm_tell_the_family_the_outcome() -> None:
    """The family hears how it ended: the outcome, or that it was a false alarm."""
    assert "已送医" in render(Purpose.FAMILY_CLOSED, facts())
    assert "误报" in render(Purpose.FAMILY_FALSE_ALARM, facts())
    assert "到达陈秀英身边" in render(Purpose.FAMILY_ARRIVED, facts(at=local(6)))
    assert "08:06" in render(Purpose.FAMILY_ARRIVED, facts(at=local(6)))


def test_the_device_hears_the_helpers_name_and_minutes() -> None:
    """The elder's device says who is coming and in how many minutes, then that they arrived."""
    assert render(Purpose.DEVICE_ON_THE_WAY, facts()) == "服务人员黄少卿已出发，约8分钟到达，请稍候"
    assert render(Purpose.DEVICE_ARRIVED, facts()) == "服务人员黄少卿已到达"


def test_escalation_names_the_case_the_reason_and_the_deadline() -> None:
    """Supervisors read which incident, who, where, why (in Chinese) and the deadline."""
    text = render(Purpose.ESCALATION, facts(reason="deadline_passed"))
    for fact in ("#1234", "陈秀英", "金涛社区3栋201房", "已超过到达时限", "08:15"):
        assert fact in text


def test_escalation_to_120_asks_for_the_call_and_claims_none() -> None:
    """The server calls nobody: the supervisor is asked to call 120, not told it was called."""
    text = render(Purpose.ESCALATION, facts(level="emergency_services"))
    assert "需呼叫120" in text
    assert "已呼叫" not in text and "转120" not in text
