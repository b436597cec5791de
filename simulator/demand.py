"""The request stream: who calls, when, for what, and the dice every policy will share.

Requests arrive as a Poisson process whose rate follows the scenario's day/night curve (and its
surges, applied every simulated day). Everything random about a request is drawn here, once:
service time, how far real travel strays from the estimate, whether it is a false alarm or gets
cancelled, and one answer (accept or not, and after how long) per offer attempt. Two policies
run on the same stream therefore face the same calls and the same helpers' moods: the
difference in their figures is the policy's (common random numbers).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simulator.district import DAY_S
from simulator.scenario import Scenario

__all__ = ["MAX_ATTEMPTS", "Answer", "Request", "requests"]

# More offers than this for one request means the roster is exhausted; the last answer repeats.
MAX_ATTEMPTS = 12


@dataclass(frozen=True, slots=True)
class Answer:
    """A helper's answer to the n-th offer of a request: ``u`` < accept probability = yes."""

    u: float
    delay_s: float


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    t: float
    emergency: bool
    kind: str  # sos, fall or general
    elder: int
    # Emergencies: the device cancels at t + cancel_after_s and an operator confirms a false alarm
    # confirm_after_s later. General help: the elder withdraws at t + cancel_after_s.
    false_alarm: bool
    cancel_after_s: float | None
    confirm_after_s: float
    service_s: float
    travel_factor: float
    answers: tuple[Answer, ...]


def _surge_factor(scenario: Scenario, slot_start_h: float) -> float:
    factor = 1.0
    hour_of_day = slot_start_h % 24
    for surge in scenario.demand.surges:
        overlap = max(
            0.0,
            min(hour_of_day + 1, surge.start_hour + surge.hours)
            - max(hour_of_day, surge.start_hour),
        )
        factor *= 1.0 + (surge.emergency_factor - 1.0) * overlap
    return factor


def requests(scenario: Scenario, days: float, n_elders: int) -> list[Request]:
    """Every request of ``days`` simulated days, in time order, from the scenario's seed."""
    dem = scenario.demand
    rng = random.Random(f"huyuan-demand:{scenario.seed}")
    mean_weight = sum(dem.hourly) / len(dem.hourly)
    per_s = dem.requests_per_day / DAY_S
    times: list[tuple[float, bool]] = []
    for slot in range(math.ceil(days * 24)):
        weight = dem.hourly[slot % 24] / mean_weight
        start, end = slot * 3600.0, min((slot + 1) * 3600.0, days * DAY_S)
        for emergency in (True, False):
            share = dem.emergency_share if emergency else 1 - dem.emergency_share
            rate = per_s * share * weight * (_surge_factor(scenario, slot) if emergency else 1.0)
            t = start
            while rate > 0:
                t += rng.expovariate(rate)
                if t >= end:
                    break
                times.append((t, emergency))
    times.sort()
    out = []
    for i, (t, emergency) in enumerate(times):
        false_alarm = emergency and rng.random() < dem.false_alarm_share
        cancelled = false_alarm or (not emergency and rng.random() < dem.cancel_share)
        cancel_after = (
            (rng.uniform(20, 120) if emergency else rng.uniform(300, 1500)) if cancelled else None
        )
        answer_mean = dem.answer_mean_s_emergency if emergency else dem.answer_mean_s_general
        service_min = dem.service_mean_min_emergency if emergency else dem.service_mean_min_general
        out.append(
            Request(
                id=i + 1,
                t=t,
                emergency=emergency,
                kind=("fall" if rng.random() < dem.fall_share else "sos")
                if emergency
                else "general",
                elder=rng.randrange(n_elders),
                false_alarm=false_alarm,
                cancel_after_s=cancel_after,
                confirm_after_s=rng.uniform(60, 240),
                # Gamma with shape 4: rarely under a third of the mean, a tail to about twice it.
                service_s=rng.gammavariate(4.0, service_min * 60 / 4.0),
                travel_factor=rng.lognormvariate(0.0, dem.travel_sigma),
                answers=tuple(
                    Answer(rng.random(), rng.expovariate(1 / answer_mean))
                    for _ in range(MAX_ATTEMPTS)
                ),
            )
        )
    return out
