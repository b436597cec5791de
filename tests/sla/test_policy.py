"""Deadlines and the other clocks of the SLA policy, with literal timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

import pytest

from sla import DEFAULT_POLICY, Category, InvalidConfiguration, NaiveDatetimeError, SlaPolicy

T = datetime.fromisoformat
EMERGENCY = Category.EMERGENCY
GENERAL = Category.GENERAL


class _Springland(tzinfo):
    """A test zone: +01:00, then from 2026-03-29T01:00Z +02:00 (wall clocks jump 02:00 → 03:00)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        assert dt is not None
        summer = (dt.year, dt.month, dt.day, dt.hour) >= (2026, 3, 29, 3)
        return timedelta(hours=2 if summer else 1)

    def dst(self, dt: datetime | None) -> timedelta:
        return self.utcoffset(dt) - timedelta(hours=1)

    def tzname(self, dt: datetime | None) -> str:
        return "SPR"

    def fromutc(self, dt: datetime) -> datetime:
        summer = (dt.year, dt.month, dt.day, dt.hour) >= (2026, 3, 29, 1)
        return dt + timedelta(hours=2 if summer else 1)


@pytest.mark.parametrize(
    ("category", "received_at", "deadline"),
    [
        (EMERGENCY, "2026-11-23T08:00:00+08:00", "2026-11-23T08:15:00+08:00"),
        (GENERAL, "2026-11-23T08:00:00+08:00", "2026-11-23T08:30:00+08:00"),
        (EMERGENCY, "2026-11-23T23:50:30+08:00", "2026-11-24T00:05:30+08:00"),
        (GENERAL, "2026-11-23T00:00:00+00:00", "2026-11-23T00:30:00+00:00"),
    ],
)
def test_deadline_is_receive_time_plus_arrival(
    category: Category, received_at: str, deadline: str
) -> None:
    """The deadline is the server's receive time plus 15 or 30 minutes, in the input's offset."""
    result = DEFAULT_POLICY.deadline(category, T(received_at))
    assert result.isoformat() == deadline


def test_offer_expiry_per_category() -> None:
    """An emergency offer expires after 60 s and a general one after 180 s."""
    offered = T("2026-11-23T08:00:00+08:00")
    assert DEFAULT_POLICY.offer_expires_at(EMERGENCY, offered).isoformat() == (
        "2026-11-23T08:01:00+08:00"
    )
    assert DEFAULT_POLICY.offer_expires_at(GENERAL, offered).isoformat() == (
        "2026-11-23T08:03:00+08:00"
    )


def test_accept_check_per_category() -> None:
    """Nobody accepting counts from 5 minutes for an emergency and 10 for general help."""
    created = T("2026-11-23T08:00:00+08:00")
    assert DEFAULT_POLICY.accept_check_at(EMERGENCY, created).isoformat() == (
        "2026-11-23T08:05:00+08:00"
    )
    assert DEFAULT_POLICY.accept_check_at(GENERAL, created).isoformat() == (
        "2026-11-23T08:10:00+08:00"
    )


def test_deadline_counts_elapsed_time_across_a_clock_change() -> None:
    """Fifteen minutes across a daylight-saving jump are fifteen real minutes, in the same zone."""
    zone = _Springland()
    received = datetime(2026, 3, 29, 1, 50, tzinfo=zone)
    deadline = DEFAULT_POLICY.deadline(EMERGENCY, received)
    assert deadline == T("2026-03-29T01:05:00+00:00")
    assert deadline.tzinfo is zone
    assert (deadline.hour, deadline.minute) == (3, 5)


def test_from_minutes_defaults_equal_the_default_policy() -> None:
    """Building from plain numbers with no arguments gives the design's defaults."""
    assert SlaPolicy.from_minutes() == DEFAULT_POLICY == SlaPolicy()
    assert hash(SlaPolicy.from_minutes()) == hash(DEFAULT_POLICY)


def test_from_minutes_takes_settings_numbers() -> None:
    """Settings numbers become durations: minutes, and seconds for offer timeouts."""
    policy = SlaPolicy.from_minutes(
        emergency_arrival=12,
        general_arrival=45,
        emergency_accept_by=4,
        general_accept_by=15,
        emergency_offer_timeout_seconds=45,
        general_offer_timeout_seconds=240,
    )
    assert policy.arrival == {EMERGENCY: timedelta(minutes=12), GENERAL: timedelta(minutes=45)}
    assert policy.accept_by == {EMERGENCY: timedelta(minutes=4), GENERAL: timedelta(minutes=15)}
    assert policy.offer_timeout == {
        EMERGENCY: timedelta(seconds=45),
        GENERAL: timedelta(seconds=240),
    }
    assert policy.deadline(EMERGENCY, T("2026-11-23T08:00:00+08:00")) == T(
        "2026-11-23T08:12:00+08:00"
    )


def test_policy_mappings_are_copied_and_read_only() -> None:
    """A policy cannot be changed through the mapping it was built from or through its own."""
    arrival = {EMERGENCY: timedelta(minutes=15), GENERAL: timedelta(minutes=30)}
    policy = SlaPolicy(arrival=arrival)
    arrival[EMERGENCY] = timedelta(hours=5)
    assert policy.arrival[EMERGENCY] == timedelta(minutes=15)
    with pytest.raises(TypeError):
        policy.arrival[EMERGENCY] = timedelta(0)  # type: ignore[index]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"emergency_arrival": 0}, "arrival for emergency must be positive"),
        ({"general_offer_timeout_seconds": -1}, "offer_timeout for general must be positive"),
        ({"emergency_accept_by": 20}, "accept_by for emergency"),
    ],
)
def test_bad_numbers_are_refused(kwargs: dict[str, float], message: str) -> None:
    """Zero or negative durations, or an accept check after the deadline, fail at startup."""
    with pytest.raises(InvalidConfiguration, match=message):
        SlaPolicy.from_minutes(**kwargs)


def test_a_category_without_a_duration_is_refused() -> None:
    """Every category must have an arrival time."""
    with pytest.raises(InvalidConfiguration, match="no duration for"):
        SlaPolicy(arrival={EMERGENCY: timedelta(minutes=15)})


@pytest.mark.parametrize("method", ["deadline", "offer_expires_at", "accept_check_at"])
def test_naive_datetimes_are_refused(method: str) -> None:
    """Every clock refuses a datetime without a UTC offset, naming the argument."""
    naive = T("2026-11-23T08:00:00")
    with pytest.raises(NaiveDatetimeError, match="must be a timezone-aware datetime"):
        getattr(DEFAULT_POLICY, method)(EMERGENCY, naive)


def test_naive_error_message_is_clear() -> None:
    """The error names the argument and shows the naive value."""
    with pytest.raises(NaiveDatetimeError) as caught:
        DEFAULT_POLICY.deadline(EMERGENCY, T("2026-11-23T08:00:00"))
    assert str(caught.value) == (
        "received_at must be a timezone-aware datetime, got naive 2026-11-23T08:00:00"
    )
    assert isinstance(caught.value, ValueError)
