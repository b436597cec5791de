"""The HTML report: one self-contained file, plots drawn as inline SVG by hand (works offline).

Plots: arrival-time distributions per category against the 15- and 30-minute lines, on-time
share by hour of day, a heat map of incidents and late arrivals on a lat/lon grid, and helper
utilisation. Every run in ``result["policies"]`` is drawn in its own colour; the heat map and
the utilisation histogram show the recommended (or only) run.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["render"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
_W, _H, _PAD = 560, 220, 36


def _svg(body: str, w: int = _W, h: int = _H) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="10">{body}</svg>'
    )


def _axes(xlabel: str, ylabel: str) -> str:
    x0, y0, x1, y1 = _PAD, _H - _PAD, _W - 10, 10
    return (
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/>'
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>'
        f'<text x="{(x0 + x1) / 2}" y="{_H - 6}" text-anchor="middle">{html.escape(xlabel)}</text>'
        f'<text x="10" y="{(y0 + y1) / 2}" transform="rotate(-90 10 {(y0 + y1) / 2})" '
        f'text-anchor="middle">{html.escape(ylabel)}</text>'
    )


def _xy(i: float, n: float, v: float, vmax: float) -> tuple[float, float]:
    x = _PAD + (_W - 10 - _PAD) * i / max(n, 1)
    y = (_H - _PAD) - (_H - _PAD - 10) * (v / vmax if vmax else 0)
    return round(x, 1), round(y, 1)


def _lines(series: Sequence[tuple[str, Sequence[float | None]]], vmax: float, n: int) -> str:
    out = []
    for k, (name, values) in enumerate(series):
        colour = _COLOURS[k % len(_COLOURS)]
        pts = [_xy(i + 0.5, n, v, vmax) for i, v in enumerate(values) if v is not None]
        path = " ".join(f"{x},{y}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        out.append(
            f'<text x="{_W - 12}" y="{20 + 12 * k}" text-anchor="end" fill="{colour}">'
            f"{html.escape(name)}</text>"
        )
    return "".join(out)


def _ticks(n: int, every: int, vmax: float, fmt: str) -> str:
    out = []
    for i in range(0, n + 1, every):
        x, _ = _xy(i, n, 0, 1)
        out.append(f'<text x="{x}" y="{_H - _PAD + 12}" text-anchor="middle">{i}</text>')
    for frac in (0.5, 1.0):
        _, y = _xy(0, n, vmax * frac, vmax)
        out.append(
            f'<text x="{_PAD - 3}" y="{y + 3}" text-anchor="end">{fmt.format(vmax * frac)}</text>'
        )
    return "".join(out)


def _arrivals(runs: list[dict[str, Any]], category: str, limit_min: int) -> str:
    series = []
    for run in runs:
        hist = run[category]["arrival_hist_min"]
        total = sum(hist) or 1
        series.append((run["policy"], [c / total for c in hist]))
    vmax = max((max(v) for _, v in series if v), default=0) or 1.0
    n = len(series[0][1]) if series else 61
    x, _ = _xy(limit_min, n, 0, 1)
    deadline = (
        f'<line x1="{x}" y1="10" x2="{x}" y2="{_H - _PAD}" stroke="#000" stroke-dasharray="4 3"/>'
        f'<text x="{x + 3}" y="20">{limit_min} min</text>'
    )
    title = f"{category}: share of arrivals per minute after the call (last bin: 60+)"
    return _figure(
        title,
        _axes("minutes", "share")
        + _ticks(n - 1, 10, vmax, "{:.2f}")
        + deadline
        + _lines(series, vmax, n),
    )


def _by_hour(runs: list[dict[str, Any]], category: str) -> str:
    series = [(r["policy"], r["on_time_by_hour"][category]) for r in runs]
    body = _axes("hour of day (local)", "on time") + _ticks(24, 3, 1.0, "{:.1f}")
    return _figure(f"{category}: share on time by hour of day", body + _lines(series, 1.0, 24))


def _heat(run: dict[str, Any]) -> str:
    heat = run["heatmap"]
    grids = (("incidents", heat["incidents"], "#1f77b4"), ("late", heat["late"], "#d62728"))
    parts = []
    size = 12
    for name, grid, colour in grids:
        n = len(grid)
        vmax = max((max(row) for row in grid), default=0) or 1
        cells = []
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                if v:
                    y = (n - 1 - r) * size  # north up
                    cells.append(
                        f'<rect x="{c * size}" y="{y}" width="{size}" height="{size}" '
                        f'fill="{colour}" fill-opacity="{0.1 + 0.9 * v / vmax:.2f}">'
                        f"<title>{v}</title></rect>"
                    )
        frame = f'<rect width="{n * size}" height="{n * size}" fill="none" stroke="#999"/>'
        parts.append(
            f"<div class=fig><h3>{name} (max {vmax} per cell)</h3>"
            + _svg(frame + "".join(cells), n * size, n * size)
            + "</div>"
        )
    s, w, no, e = heat["bounds"]
    note = f"<p class=note>lat {s:.3f}–{no:.3f} N, lon {w:.3f}–{e:.3f} E; north up.</p>"
    return "<div class=row>" + "".join(parts) + "</div>" + note


def _utilisation(run: dict[str, Any]) -> str:
    values = run["helpers"]["utilisation_each"]
    bins = [0] * 10
    for u in values:
        bins[min(int(u * 10), 9)] += 1
    vmax = max(bins) or 1
    bars = []
    for i, count in enumerate(bins):
        x, y = _xy(i, 10, count, vmax)
        x2, _ = _xy(i + 1, 10, 0, vmax)
        bars.append(
            f'<rect x="{x + 1}" y="{y}" width="{x2 - x - 2}" height="{_H - _PAD - y}" '
            f'fill="#2ca02c"><title>{count}</title></rect>'
        )
    body = _axes("utilisation (busy / on duty), tenths", "helpers") + _ticks(10, 1, vmax, "{:.0f}")
    return _figure(f"helper utilisation ({run['policy']})", body + "".join(bars))


def _figure(title: str, body: str) -> str:
    return f"<div class=fig><h3>{html.escape(title)}</h3>{_svg(body)}</div>"


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}" if v < 1.0 else f"{v:.1f}"
    return str(v)


def _table(runs: list[dict[str, Any]]) -> str:
    head = ["policy"]
    for cat in ("emergency", "general"):
        head += [f"{cat} on time", f"{cat} mean min", f"{cat} p90 min"]
    head += ["utilisation", "fairness Gini"]
    rows = []
    for r in runs:
        cells: list[Any] = [r["policy"]]
        for cat in ("emergency", "general"):
            c = r[cat]
            cells += [c["share_on_time"], c["arrival_mean_min"], c["arrival_p90_min"]]
        cells += [r["helpers"]["utilisation"], r["helpers"]["fairness_gini"]]
        rows.append("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in cells) + "</tr>")
    th = "".join(f"<th>{html.escape(name)}</th>" for name in head)
    return f"<table><tr>{th}</tr>{''.join(rows)}</table>"


def render(result: dict[str, Any]) -> str:
    """The report of a fast or live result as one HTML document."""
    runs: list[dict[str, Any]] = result["policies"]
    main = next((r for r in runs if r["policy"] == result.get("recommended_policy")), runs[0])
    facts = {k: v for k, v in result.items() if not isinstance(v, list | dict)}
    title = f"Huyuan simulator — {result.get('mode', '')} — {result.get('scenario', '')}"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title><style>
body{{font-family:sans-serif;margin:1.5em;color:#222}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
.row{{display:flex;gap:2em;flex-wrap:wrap}}
.fig h3{{font-size:13px;margin:.6em 0 .2em}} .note{{font-size:12px;color:#555}}
</style></head><body><h1>{html.escape(title)}</h1>
<pre>{html.escape(json.dumps(facts, indent=1, ensure_ascii=False))}</pre>
{_table(runs)}
<div class=row>{_arrivals(runs, "emergency", 15)}{_arrivals(runs, "general", 30)}</div>
<div class=row>{_by_hour(runs, "emergency")}{_by_hour(runs, "general")}</div>
<h2>Where: incidents and late arrivals ({html.escape(main["policy"])})</h2>{_heat(main)}
<div class=row>{_utilisation(main)}</div>
</body></html>
"""
