"""A scenario: the sizes and rates of a synthetic district, read from a TOML file.

Every field is documented in docs/simulator.md. Scenario files live in ``simulator/scenarios``
(``longhu``, ``city``, ``surge``, ``small``); ``load("longhu")`` reads one by name and
``load("path/to/file.toml")`` any other. A file may say ``base = "longhu"`` and override only
the tables it names, which is how ``city`` and ``surge`` stay one screen long.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["SCENARIO_DIR", "Demand", "District", "Roster", "Scenario", "Surge", "load"]

SCENARIO_DIR = Path(__file__).with_name("scenarios")


@dataclass(frozen=True)
class District:
    centre_lat: float = 23.37
    centre_lon: float = 116.70
    side_km: float = 10.0
    elders: int = 14_000
    communities: int = 120
    # Spread of a community's homes around its centre: a residential compound and its lanes.
    community_radius_m: float = 250.0
    wristband_share: float = 0.4


@dataclass(frozen=True)
class Roster:
    social_workers: int = 66
    # Share of social workers on each 8-hour shift (06-14, 14-22, 22-06); they sum to 1.
    shift_shares: tuple[float, float, float] = (0.42, 0.36, 0.22)
    # A five-day week: each worker is off two days in seven.
    workdays_per_week: int = 5
    volunteers: int = 200
    volunteer_days_per_week: float = 2.0
    volunteer_hours: tuple[float, float] = (2.0, 4.0)
    # Travel modes of social workers and volunteers: shares of walk, ebike, car.
    worker_modes: tuple[float, float, float] = (0.2, 0.6, 0.2)
    volunteer_modes: tuple[float, float, float] = (0.5, 0.45, 0.05)


@dataclass(frozen=True)
class Surge:
    start_hour: float = 13.0
    hours: float = 3.0
    emergency_factor: float = 5.0


@dataclass(frozen=True)
class Demand:
    requests_per_day: float = 60.0
    emergency_share: float = 0.2
    fall_share: float = 0.25
    false_alarm_share: float = 0.3
    cancel_share: float = 0.05
    # Relative request rate per hour of the local day (0..23), normalised when drawn.
    hourly: tuple[float, ...] = (
        0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 0.9, 1.4, 1.8, 1.9, 1.8, 1.5,
        1.1, 1.0, 1.3, 1.5, 1.6, 1.5, 1.2, 1.0, 0.8, 0.6, 0.5, 0.4,
    )  # fmt: skip
    accept_probability_worker: float = 0.92
    accept_probability_volunteer: float = 0.7
    # Mean seconds to answer an offer; answers after the offer expired count as no answer.
    answer_mean_s_emergency: float = 25.0
    answer_mean_s_general: float = 75.0
    service_mean_min_emergency: float = 40.0
    service_mean_min_general: float = 50.0
    # Real travel scatters around the estimate: lognormal sigma of actual / estimated time.
    travel_sigma: float = 0.15
    surges: tuple[Surge, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int = 1
    district: District = field(default_factory=District)
    roster: Roster = field(default_factory=Roster)
    demand: Demand = field(default_factory=Demand)
    days: float = 30.0


def _build(cls: type[Any], base: Any, table: dict[str, Any]) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(table) - known
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown key(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "surges":
            values[key] = tuple(Surge(**s) for s in value)
        elif isinstance(value, list):
            values[key] = tuple(value)
        else:
            values[key] = value
    return replace(base, **values)


def _path(name: str) -> Path:
    if name.endswith(".toml"):
        return Path(name)
    return SCENARIO_DIR / f"{name}.toml"


def load(name: str) -> Scenario:
    """Read a scenario by name (shipped) or by path to a ``.toml`` file."""
    path = _path(name)
    if not path.exists():
        shipped = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
        raise ValueError(f"no scenario {name!r}; shipped: {', '.join(shipped)}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    base = load(data.pop("base")) if "base" in data else Scenario(name=path.stem)
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    return replace(
        base,
        name=str(top.pop("name", path.stem)),
        district=_build(District, base.district, data.get("district", {})),
        roster=_build(Roster, base.roster, data.get("roster", {})),
        demand=_build(Demand, base.demand, data.get("demand", {})),
        **top,
    )
