"""Statistics: is the promise kept, how fast do helpers arrive, where and what are the calls.

On-time share uses ``sla.compliance`` (the same counting the SLA reports use): an incident is
measured once it has an arrival or its deadline has passed; false alarms are not measured.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from fastapi import APIRouter, Request
from starlette.responses import Response

from dispatcher.store.models import Incident
from dispatcher.store.read_models import incidents_since
from dispatcher.web.console.auth import CurrentOperator, app_context
from dispatcher.web.console.charts import hbars, histogram, share_bars
from dispatcher.web.console.i18n import Translate, language, register, translator
from dispatcher.web.console.views import render
from sla import Category, Outcome, State, compliance

router = APIRouter()
MAX_ROWS = 50_000
HIST_MINUTES = 45  # arrivals later than this share the last bin

register({"stats.community_unknown": ("未登记社区", "No community")})


@dataclass(frozen=True)
class Row:
    incident: Incident
    community: str | None
    elder: str | None


async def load(request: Request, days: int) -> tuple[list[Row], datetime, tzinfo]:
    ctx = app_context(request)
    now = ctx.clock()
    async with ctx.db.read_session() as s:
        found = await incidents_since(s, now - timedelta(days=days), MAX_ROWS)
    rows = [Row(i, c, n) for i, c, n in found]
    return rows, now, ctx.workflow.config.display_tz


def bucket_of(at: datetime, tz: tzinfo, by: str) -> date:
    day = at.astimezone(tz).date()
    return day - timedelta(days=day.weekday()) if by == "week" else day


def on_time(
    rows: Sequence[Row], now: datetime, tz: tzinfo, by: str, days: int
) -> dict[str, object]:
    first = bucket_of(now - timedelta(days=days - 1), tz, by)
    step = timedelta(days=7 if by == "week" else 1)
    buckets: list[date] = []
    cursor = first
    while cursor <= bucket_of(now, tz, by):
        buckets.append(cursor)
        cursor += step
    grouped: dict[date, list[Outcome]] = {b: [] for b in buckets}
    for r in rows:
        i = r.incident
        grouped.setdefault(bucket_of(i.created_at, tz, by), []).append(
            Outcome(
                Category(i.category),
                i.created_at,
                i.deadline,
                i.arrived_at,
                cancelled=i.state == State.CANCELLED,
            )
        )
    figures = {b: compliance(grouped[b], now=now) for b in buckets}
    return {
        "labels": [b.strftime("%m-%d") for b in buckets],
        "emergency": [figures[b][Category.EMERGENCY].share_met for b in buckets],
        "general": [figures[b][Category.GENERAL].share_met for b in buckets],
        "totals": compliance([o for b in buckets for o in grouped[b]], now=now),
    }


def arrival_minutes(rows: Sequence[Row], category: Category) -> list[int]:
    counts = [0] * (HIST_MINUTES + 1)
    for r in rows:
        i = r.incident
        if i.category == category and i.arrived_at is not None:
            minutes = int((i.arrived_at - i.created_at).total_seconds() // 60)
            counts[min(max(minutes, 0), HIST_MINUTES)] += 1
    return counts


def heat(rows: Sequence[Row]) -> list[dict[str, float]]:
    """Incidents binned on a ~200 m grid: a heat map without a heat-map plug-in."""
    cells: Counter[tuple[float, float]] = Counter()
    for r in rows:
        if r.incident.lat is not None and r.incident.lon is not None:
            cells[
                (round(r.incident.lat / 0.002) * 0.002, round(r.incident.lon / 0.002) * 0.002)
            ] += 1
    return [{"lat": lat, "lon": lon, "n": n} for (lat, lon), n in cells.items()]


def charts(
    rows: Sequence[Row], now: datetime, tz: tzinfo, by: str, days: int, t: Translate
) -> dict[str, object]:
    share = on_time(rows, now, tz, by, days)
    labels = share["labels"]
    assert isinstance(labels, list)
    em, gen = share["emergency"], share["general"]
    assert isinstance(em, list) and isinstance(gen, list)
    bins = [str(m) for m in range(HIST_MINUTES)] + [f"{HIST_MINUTES}+"]
    kinds = Counter(t(f"kind.{r.incident.kind}") for r in rows)
    places = Counter(r.community or t("stats.community_unknown") for r in rows)
    return {
        "totals": share["totals"],
        "share_svg": share_bars(
            labels,
            [(t("category.emergency"), "em", em), (t("category.general"), "gen", gen)],
            t("stats.on_time"),
        ),
        "hist_svg": histogram(
            bins,
            [
                (t("category.emergency"), "em", arrival_minutes(rows, Category.EMERGENCY)),
                (t("category.general"), "gen", arrival_minutes(rows, Category.GENERAL)),
            ],
            [(15, t("stats.line", n=15)), (30, t("stats.line", n=30))],
            t("stats.arrivals"),
        ),
        "kinds_svg": hbars(kinds.most_common(), t("stats.by_kind")),
        "places_svg": hbars(places.most_common(12), t("stats.by_community"), "bar alt"),
        "heat": heat(rows),
        "count": len(rows),
    }


def _params(days: int, by: str) -> tuple[int, str]:
    return (days if days in (1, 7, 28, 90) else 7), ("week" if by == "week" else "day")


@router.get("/stats")
async def stats_page(
    request: Request, operator: CurrentOperator, days: int = 7, by: str = "day"
) -> Response:
    days, by = _params(days, by)
    rows, now, tz = await load(request, days)
    t = translator(language(request))
    return render(
        request, "stats.html", operator, days=days, by=by, c=charts(rows, now, tz, by, days, t)
    )


@router.get("/stats/export.csv")
async def export_csv(request: Request, _operator: CurrentOperator, days: int = 7) -> Response:
    days, _ = _params(days, "day")
    rows, _now, tz = await load(request, days)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(
        [
            "id",
            "created_local",
            "category",
            "kind",
            "state",
            "community",
            "elder",
            "deadline_local",
            "arrived_local",
            "minutes_to_arrival",
            "on_time",
            "sla_status",
            "sla_code",
            "escalation_level",
            "outcome",
        ]
    )
    fmt = "%Y-%m-%d %H:%M:%S"
    for r in rows:
        i = r.incident
        minutes = (i.arrived_at - i.created_at).total_seconds() / 60 if i.arrived_at else None
        w.writerow(
            [
                i.id,
                i.created_at.astimezone(tz).strftime(fmt),
                i.category,
                i.kind,
                i.state,
                r.community or "",
                r.elder or "",
                i.deadline.astimezone(tz).strftime(fmt),
                i.arrived_at.astimezone(tz).strftime(fmt) if i.arrived_at else "",
                f"{minutes:.1f}" if minutes is not None else "",
                "" if i.arrived_at is None else str(i.arrived_at <= i.deadline).lower(),
                i.sla_status,
                i.sla_code or "",
                i.escalation_level,
                i.outcome or "",
            ]
        )
    # A BOM so Excel (what the centres open it with) reads the Chinese names as UTF-8.
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="huyuan-incidents-{days}d.csv"'},
    )


__all__ = ["router"]
