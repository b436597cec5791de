"""Small SVG charts drawn on the server: no chart library, no script, readable when printed.

Each function takes plain numbers and labels and returns markup to drop into a template.
Colours are CSS classes (``console.css``) so both themes and print can restyle them.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

W, H = 640, 220
PAD_L, PAD_R, PAD_T, PAD_B = 44, 12, 14, 34


def _frame(body: str, label: str, width: int = W, height: int = H) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="xMidYMid meet">{body}</svg>'
    )


def share_bars(
    buckets: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    label: str,
) -> Markup:
    """Grouped bars of a share (0..1) per bucket; ``series`` is (name, css class, values)."""
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    parts = []
    for pct in (0, 25, 50, 75, 100):
        y = PAD_T + plot_h * (1 - pct / 100)
        parts.append(
            f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{pct}%</text>'
        )
    n = max(1, len(buckets))
    group_w = plot_w / n
    bar_w = min(28.0, group_w * 0.8 / max(1, len(series)))
    for i, bucket in enumerate(buckets):
        x0 = PAD_L + i * group_w + (group_w - bar_w * len(series)) / 2
        for j, (name, css, values) in enumerate(series):
            value = values[i]
            x = x0 + j * bar_w
            if value is None:  # nothing measured: a tick, not a zero bar that reads as failure
                parts.append(
                    f'<line class="none" x1="{x:.1f}" x2="{x + bar_w - 2:.1f}" '
                    f'y1="{PAD_T + plot_h:.1f}" y2="{PAD_T + plot_h:.1f}"/>'
                )
                continue
            h = plot_h * value
            parts.append(
                f'<rect class="{css}" x="{x:.1f}" y="{PAD_T + plot_h - h:.1f}" '
                f'width="{bar_w - 2:.1f}" height="{h:.1f}"><title>{escape(name)} {escape(bucket)}: '
                f"{value:.0%}</title></rect>"
            )
        if n <= 16 or i % max(1, n // 12) == 0:
            parts.append(
                f'<text class="axis" x="{PAD_L + (i + 0.5) * group_w:.1f}" y="{H - 14}" '
                f'text-anchor="middle">{escape(bucket)}</text>'
            )
    return _frame("".join(parts), label)


def histogram(
    bins: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
    lines: Sequence[tuple[int, str]],
    label: str,
) -> Markup:
    """Counts per bin, series side by side, with vertical marker lines at bin indices."""
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    top = max([1, *(v for _, _, values in series for v in values)])
    parts = []
    for tick in sorted({0, top // 2, top}):  # whole incidents only: no "0, 0, 1" axis
        y = PAD_T + plot_h * (1 - tick / top)
        parts.append(
            f'<line class="grid" x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    n = max(1, len(bins))
    bin_w = plot_w / n
    bar_w = bin_w / max(1, len(series))
    for i, name in enumerate(bins):
        for j, (sname, css, values) in enumerate(series):
            h = plot_h * values[i] / top
            if h <= 0:
                continue
            parts.append(
                f'<rect class="{css}" x="{PAD_L + i * bin_w + j * bar_w:.1f}" '
                f'y="{PAD_T + plot_h - h:.1f}" width="{max(1.0, bar_w - 0.5):.1f}" '
                f'height="{h:.1f}">'
                f"<title>{escape(sname)} {escape(name)}: {values[i]}</title></rect>"
            )
        if i % 5 == 0:
            parts.append(
                f'<text class="axis" x="{PAD_L + i * bin_w:.1f}" y="{H - 14}" '
                f'text-anchor="middle">{escape(name)}</text>'
            )
    for index, text in lines:
        x = PAD_L + index * bin_w
        parts.append(
            f'<line class="limit" x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" '
            f'y2="{PAD_T + plot_h}"/><text class="limit-label" x="{x + 4:.1f}" '
            f'y="{PAD_T + 12}">{escape(text)}</text>'
        )
    return _frame("".join(parts), label)


def hbars(items: Sequence[tuple[str, int]], label: str, css: str = "bar") -> Markup:
    """Horizontal bars, largest first, with the count at the end of each bar."""
    row_h, label_w, width = 24, 170, 520
    height = max(1, len(items)) * row_h + 8
    top = max([1, *(v for _, v in items)])
    parts = []
    for i, (name, value) in enumerate(items):
        y = 4 + i * row_h
        w = (width - label_w - 50) * value / top
        parts.append(
            f'<text class="axis" x="{label_w - 8}" y="{y + 16}" text-anchor="end">'
            f"{escape(name)}</text>"
            f'<rect class="{css}" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}"/>'
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 16}">{value}</text>'
        )
    return _frame("".join(parts), label, width, height)


__all__ = ["hbars", "histogram", "share_bars"]
