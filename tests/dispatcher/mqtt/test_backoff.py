"""The reconnect backoff: doubling from the first delay to the cap, reset by a success, jittered."""

from __future__ import annotations

import pytest

from dispatcher.mqtt.backoff import Backoff


def test_doubles_from_one_second_up_to_thirty() -> None:
    """Without jitter the delays are 1, 2, 4, 8, 16, then 30 s for as long as it takes."""
    backoff = Backoff(1.0, 30.0, jitter=0)
    assert [backoff.next() for _ in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_success_starts_the_next_outage_at_the_first_delay() -> None:
    """reset() after a CONNACK: the next drop is retried after the first delay again."""
    backoff = Backoff(1.0, 30.0, jitter=0)
    for _ in range(5):
        backoff.next()
    backoff.reset()
    assert backoff.next() == 1


@pytest.mark.parametrize(("uniform", "expected"), [(0.0, 0.9), (0.5, 1.0), (0.999_999, 1.1)])
def test_jitter_spreads_each_delay_by_at_most_its_share(uniform: float, expected: float) -> None:
    """With 10 % jitter a 1 s delay lands within 0.9–1.1 s, so processes do not retry in step."""
    backoff = Backoff(1.0, 30.0, jitter=0.1, uniform=lambda: uniform)
    assert backoff.next() == pytest.approx(expected, abs=1e-5)


def test_never_overflows_after_a_very_long_outage() -> None:
    """A week of failed attempts still yields the cap, not an overflow."""
    backoff = Backoff(1.0, 30.0, jitter=0)
    for _ in range(100_000):
        delay = backoff.next()
    assert delay == 30


@pytest.mark.parametrize(
    ("first", "cap", "jitter"), [(0, 1, 0), (2, 1, 0), (1, 2, 1.0), (1, 2, -0.1)]
)
def test_refuses_nonsense(first: float, cap: float, jitter: float) -> None:
    """A zero first delay, a cap below it, or a jitter outside [0, 1) is refused."""
    with pytest.raises(ValueError, match=r"backoff|jitter"):
        Backoff(first, cap, jitter=jitter)
