"""Small server-side SVG charts: no JavaScript, no CDN, readable when printed.

Each function returns safe markup (every label is escaped here) that scales with its box
(viewBox + width 100%). Hovering a bar shows its exact figure through an SVG <title>.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Colours per series, matching portal.css's pills.
COLOURS = {
    "succeeded": "#12b76a",
    "charged": "#12b76a",
    "processing": "#4f46e5",
    "submitting": "#f79009",
    "queued": "#fdb022",
    "in progress": "#4f46e5",
    "failed": "#d92d20",
    "released": "#f97066",
    "canceled": "#98a2b3",
}
FALLBACK = ["#4f46e5", "#12b76a", "#f79009", "#d92d20", "#7a5af8", "#06aed4", "#98a2b3"]


def colour(name: str, index: int = 0) -> str:
    return COLOURS.get(name, FALLBACK[index % len(FALLBACK)])


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: no value (a day still to come, on a line)


def _nice_max(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5, 5 times a power of 10)."""
    if value <= 0:
        return 1
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _nice_count_max(value: float, ticks: int = 4) -> int:
    """An axis maximum for counts: `ticks` whole-number steps of a round size."""
    need = max(1, math.ceil(value / ticks))
    exp = 10 ** max(0, math.floor(math.log10(need)))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if need <= step * exp and float(step * exp).is_integer():
            return int(step * exp) * ticks
    return 10 * exp * ticks


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    line: Series | None = None,
    line_limit: float | None = None,
    line_format: Callable[[float], str] = _fmt,
    height: int = 260,
) -> SafeString:
    """Bars per label, stacked by series; optionally a line (own right axis) with a limit."""
    width, left, right, top, bottom = 760, 44, 64 if line else 16, 28, 42
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    whole = all(float(v or 0).is_integer() for s in series for v in s.values)
    y_max = (_nice_count_max if whole else _nice_max)(max(totals, default=0))
    n = max(1, len(labels))
    slot = plot_w / n
    bar_w = max(2.0, min(28.0, slot * 0.7))
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    # Grid and left axis.
    for k in range(5):
        value = y_max * k / 4
        y = top + plot_h - plot_h * k / 4
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{_fmt(value)}</text>"
        )
    # Bars.
    every = max(1, math.ceil(n / 12))  # at most ~12 x labels so they never overlap
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        y = top + plot_h
        for j, s in enumerate(series):
            value = s.values[i] or 0
            if not value:
                continue
            h = plot_h * value / y_max
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour(s.name, j)}"><title>{escape(label)}: {_fmt(value)} '
                f"{escape(s.name)}</title></rect>"
            )
        # The last day always has its label (the reader's "today"); a regular label too
        # close before it gives way so the two never overlap.
        if i == n - 1 or (i % every == 0 and n - 1 - i >= every):
            out.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" class="axis" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    if line is not None:
        out.extend(_line(labels, line, line_limit, line_format, left, top, plot_w, plot_h, slot))
    # Legend.
    x = left
    for j, s in enumerate([*series, *([line] if line else [])]):
        is_line = line is not None and s is line
        mark = (
            f'<line x1="{x}" x2="{x + 14}" y1="{height - 10}" y2="{height - 10}" class="line"/>'
            if is_line
            else f'<rect x="{x}" y="{height - 16}" width="12" height="12" '
            f'fill="{colour(s.name, j)}"/>'
        )
        out.append(
            f'{mark}<text x="{x + 18}" y="{height - 6}" class="legend">{escape(s.name)}</text>'
        )
        x += 30 + 7 * len(s.name)
    out.append("</svg>")
    return mark_safe("".join(out))


def _line(labels, line, limit, fmt, left, top, plot_w, plot_h, slot) -> list[str]:
    known = [v for v in line.values if v is not None]  # None: a day still to come
    y_max = _nice_max(max([*known, limit or 0], default=0))
    points = [
        (left + slot * i + slot / 2, top + plot_h - plot_h * v / y_max, labels[i], v)
        for i, v in enumerate(line.values)
        if v is not None
    ]
    out = [
        f'<text x="{left + plot_w + 6}" y="{top + 4}" class="axis">{escape(fmt(y_max))}</text>',
        f'<text x="{left + plot_w + 6}" y="{top + plot_h + 4}" class="axis">'
        f"{escape(fmt(0))}</text>",
    ]
    if limit:
        y = top + plot_h - plot_h * limit / y_max
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="limit"/>'
            f'<text x="{left + plot_w - 4}" y="{y - 5:.1f}" class="axis" text-anchor="end">'
            f"limit {escape(fmt(limit))}</text>"
        )
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        out.append(f'<polyline points="{path}" class="line"/>')
        for x, y, label, v in points:
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="dot"><title>{escape(label)}: '
                f"{escape(fmt(v))} {escape(line.name)}</title></circle>"
            )
    return out


def hbars(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    value_format: Callable[[float], str] = _fmt,
    colour_name: str = "",
    bar_colour: str = "#4f46e5",
) -> SafeString:
    """Horizontal bars, one per (label, value) row, largest scale first as given."""
    # Narrower than stacked_bars: these sit in half-width cards and must stay legible. Each
    # label has its own line above its bar, so a long team name is never clipped.
    row_h, width = 38, 500
    height = max(1, len(rows)) * row_h + 8
    v_max = max([v for _, v in rows], default=0) or 1
    plot_w = width - 80
    fill = COLOURS.get(colour_name, bar_colour)
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    if not rows:
        out.append('<text x="8" y="20" class="axis">No data in this range.</text>')
    for i, (label, value) in enumerate(rows):
        y = 4 + i * row_h
        w = plot_w * value / v_max
        short = label if len(label) <= 70 else label[:69] + "…"
        out.append(
            f'<text x="0" y="{y + 12}" class="label">{escape(short)}</text>'
            f'<rect x="0" y="{y + 17}" width="{max(w, 1):.1f}" height="14" '
            f'fill="{fill}" rx="3"><title>{escape(label)}: {escape(value_format(value))}</title>'
            f"</rect>"
            f'<text x="{w + 6:.1f}" y="{y + 29}" class="value">'
            f"{escape(value_format(value))}</text>"
        )
    out.append("</svg>")
    return mark_safe("".join(out))
