"""The district generator: elders' homes, their devices and the helper roster, from a seed.

Same scenario and seed, same district, down to the last metre and shift. Homes cluster in
residential communities whose sizes vary (a few big estates, many small lanes); social workers
start from community service stations, volunteers from their own homes. Positions are placed on
the local tangent plane around the centre, which at 10-30 km is well within the metre.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from dispatcher.matching import TravelMode
from simulator.scenario import Roster, Scenario

__all__ = ["DAY_S", "District", "Elder", "Helper", "generate", "offset"]

DAY_S = 86_400.0
_MODES = (TravelMode.WALK, TravelMode.EBIKE, TravelMode.CAR)
_SHIFT_STARTS_H = (6.0, 14.0, 22.0)
_SURNAMES = "陈林黄李郑吴许张蔡王刘杨谢洪翁"
_GIVEN = "秀英桂兰德明国强少卿木兴亚妹玉珍文华淑芬志雄惠娟锦荣丽"


@dataclass(frozen=True, slots=True)
class Elder:
    ref: str
    name: str
    lat: float
    lon: float
    community: int
    device_id: str
    device_model: str
    report_interval_s: int


@dataclass(frozen=True, slots=True)
class Helper:
    index: int
    ref: str
    name: str
    role: str
    mode: TravelMode
    lat: float
    lon: float
    # On-duty windows in seconds since the start of day 0 (local midnight), sorted.
    duty: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class District:
    scenario: Scenario
    elders: tuple[Elder, ...]
    helpers: tuple[Helper, ...]
    community_weights: tuple[float, ...]


def offset(lat0: float, lon0: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point ``east_m``/``north_m`` metres from (lat0, lon0) on the local plane."""
    m_per_deg_lat = 110_574.0 + 1_111.0 * math.sin(math.radians(lat0)) ** 2
    m_per_deg_lon = 111_320.0 * math.cos(math.radians(lat0))
    return lat0 + north_m / m_per_deg_lat, lon0 + east_m / m_per_deg_lon


def _name(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=2))


def _mode(rng: random.Random, shares: tuple[float, float, float]) -> TravelMode:
    return rng.choices(_MODES, weights=shares)[0]


def _worker_duty(
    rng: random.Random, roster: Roster, shift: int, days: int
) -> tuple[tuple[float, float], ...]:
    # Days off rotate per worker so that every day has the same expected staffing.
    off_phase = rng.randrange(7)
    windows = []
    # From the day before: the night shift that began at 22:00 is still on duty at 00:00.
    for day in range(-1, days):
        if (day + off_phase) % 7 >= roster.workdays_per_week:
            continue
        start = day * DAY_S + _SHIFT_STARTS_H[shift] * 3600
        windows.append((start, start + 8 * 3600))
    return tuple(windows)


def _volunteer_duty(
    rng: random.Random, roster: Roster, days: int
) -> tuple[tuple[float, float], ...]:
    windows = []
    for day in range(days):
        if rng.random() >= roster.volunteer_days_per_week / 7:
            continue
        hours = rng.uniform(*roster.volunteer_hours)
        # Volunteers give their time in the waking day, 08:00 to 21:00.
        start_h = rng.uniform(8.0, 21.0 - hours)
        start = day * DAY_S + start_h * 3600
        windows.append((start, start + hours * 3600))
    return tuple(windows)


def generate(scenario: Scenario, *, days: int | None = None, tag: int = 0) -> District:
    """The district of ``scenario`` with duty windows for ``days`` (default: the scenario's).

    ``tag`` (0..999999) goes into refs and device ids so that runs against one shared server
    or broker never collide; it does not change any position or rate.
    """
    rng = random.Random(f"huyuan-district:{scenario.seed}")
    d, roster = scenario.district, scenario.roster
    horizon_days = math.ceil(days if days is not None else scenario.days) + 1
    half = d.side_km * 500.0
    centres = [
        offset(d.centre_lat, d.centre_lon, rng.uniform(-half, half), rng.uniform(-half, half))
        for _ in range(d.communities)
    ]
    # Lognormal sizes: a few large estates and many small communities, as in an old town.
    weights = tuple(rng.lognormvariate(0.0, 0.8) for _ in range(d.communities))
    prefix = f"{scenario.name[:6]}{tag:06d}"
    elders = []
    for i in range(d.elders):
        c = rng.choices(range(d.communities), weights=weights)[0]
        lat, lon = offset(
            *centres[c],
            rng.gauss(0.0, d.community_radius_m),
            rng.gauss(0.0, d.community_radius_m),
        )
        wristband = rng.random() < d.wristband_share
        elders.append(
            Elder(
                ref=f"{prefix}-E{i:06d}",
                name=_name(rng),
                lat=lat,
                lon=lon,
                community=c,
                device_id=f"86{tag:06d}{i:07d}",
                device_model="wristband" if wristband else "handset",
                report_interval_s=rng.choice((60, 120, 300)) if wristband else 300,
            )
        )
    helpers = []
    for k in range(roster.social_workers + roster.volunteers):
        worker = k < roster.social_workers
        if worker:
            shift = rng.choices(range(3), weights=roster.shift_shares)[0]
            duty = _worker_duty(rng, roster, shift, horizon_days)
            mode = _mode(rng, roster.worker_modes)
            base = rng.choices(centres, weights=weights)[0]
        else:
            duty = _volunteer_duty(rng, roster, horizon_days)
            mode = _mode(rng, roster.volunteer_modes)
            home = rng.choice(elders) if elders else None
            base = (home.lat, home.lon) if home else (d.centre_lat, d.centre_lon)
        helpers.append(
            Helper(
                index=k,
                ref=f"{prefix}-H{k:05d}",
                name=_name(rng),
                role="social_worker" if worker else "volunteer",
                mode=mode,
                lat=base[0],
                lon=base[1],
                duty=duty,
            )
        )
    return District(scenario, tuple(elders), tuple(helpers), weights)
