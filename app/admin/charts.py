"""Server-side SVG charts: no chart library, no CDN; colours come from the stylesheet's Polaris tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import count

from markupsafe import Markup, escape

Number = int | float | Decimal
_ids = count(1)


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked series: a name for the legend, a value per category, and a CSS colour class."""

    name: str
    values: Sequence[Number]
    css: str


def _fmt(value: Number) -> str:
    return f"{float(value):.1f}".rstrip("0").rstrip(".")


def _nice_max(value: float) -> float:
    """A round axis maximum just above `value` (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10.0 * magnitude


def _frame(width: int, height: int, title: str, body: str, css: str) -> Markup:
    chart_id = f"ts-chart-{next(_ids)}"
    # Every text that reaches the SVG went through escape() above; the numbers are formatted floats.
    return Markup(  # noqa: S704
        f'<svg class="ts-chart {css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}">{escape(title)}</title>{body}</svg>'
    )


def hbar_chart(
    title: str, rows: Sequence[tuple[str, Number, str]], css: str = "", label_width: int = 120
) -> Markup:
    """Horizontal bars, one per (label, value, shown text); good for ranks and stores."""
    row_h, width = 30, 560
    height = max(row_h * len(rows), row_h)
    top = max((float(v) for _, v, _ in rows), default=0.0) or 1.0
    bar_room = width - label_width - 110
    parts = []
    for i, (label, value, shown) in enumerate(rows):
        y = i * row_h
        w = max(float(value) / top * bar_room, 0.0 if float(value) == 0 else 2.0)
        parts.append(
            f'<text class="ts-chart-label" x="{label_width - 8}" y="{y + 19}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="ts-chart-bar ts-series-{i % 6}" x="{label_width}" y="{y + 6}" width="{w:.1f}" '
            f'height="{row_h - 12}" rx="3"><title>{escape(label)}: {escape(shown)}</title></rect>'
            f'<text class="ts-chart-value" x="{label_width + w + 6:.1f}" y="{y + 19}">{escape(shown)}</text>'
        )
    return _frame(width, height, title, "".join(parts), css)


def stacked_columns(
    title: str, categories: Sequence[str], series: Sequence[Series], value_label: str = "", css: str = ""
) -> Markup:
    """Stacked columns per category (e.g. month) with a legend; totals decide the axis."""
    width, height, left, bottom, top_pad, legend_h = 640, 260, 56, 28, 12, 26
    plot_h = height - bottom - top_pad - legend_h
    plot_w = width - left - 8
    totals = [sum(float(s.values[i]) for s in series) for i in range(len(categories))]
    axis_max = _nice_max(max(totals, default=0.0))
    slot = plot_w / max(len(categories), 1)
    col_w = slot * 0.64
    parts = []
    for tick in range(5):
        value = axis_max * tick / 4
        y = top_pad + plot_h - plot_h * tick / 4
        parts.append(
            f'<line class="ts-chart-grid" x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="ts-chart-axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_short(value))}</text>"
        )
    for i, category in enumerate(categories):
        x = left + i * slot + (slot - col_w) / 2
        y = top_pad + plot_h
        for s in series:
            value = float(s.values[i])
            h = plot_h * value / axis_max
            if h <= 0:
                continue
            y -= h
            parts.append(
                f'<rect class="ts-chart-bar {s.css}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{col_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(category)} · {escape(s.name)}: {escape(_short(value))}</title></rect>"
            )
        parts.append(
            f'<text class="ts-chart-axis" x="{x + col_w / 2:.1f}" y="{top_pad + plot_h + 16}" '
            f'text-anchor="middle">{escape(category)}</text>'
        )
    lx = left
    for s in series:
        parts.append(
            f'<rect class="ts-chart-bar {s.css}" x="{lx}" y="{height - 16}" width="12" height="12" rx="2"/>'
            f'<text class="ts-chart-legend" x="{lx + 18}" y="{height - 6}">{escape(s.name)}</text>'
        )
        lx += 26 + 9 * max(len(s.name), 4) + (6 * sum(1 for ch in s.name if ord(ch) > 0x2E80))
    if value_label:
        parts.append(f'<text class="ts-chart-axis" x="4" y="{top_pad - 2}">{escape(value_label)}</text>')
    return _frame(width, height, title, "".join(parts), css)


def share_bar(title: str, parts: Sequence[tuple[str, Number, str]], css: str = "") -> Markup:
    """One 100 % bar split into shares (label, value, CSS class) with a legend underneath."""
    width, height = 560, 58
    total = sum(float(v) for _, v, _ in parts) or 1.0
    x, body = 0.0, []
    for label, value, cls in parts:
        w = float(value) / total * width
        if w > 0:
            body.append(
                f'<rect class="ts-chart-bar {cls}" x="{x:.1f}" y="0" width="{w:.1f}" height="24">'
                f"<title>{escape(label)}: {float(value) / total * 100:.1f}%</title></rect>"
            )
        x += w
    lx = 0
    for label, value, cls in parts:
        text = f"{label} {float(value) / total * 100:.1f}%"
        body.append(
            f'<rect class="ts-chart-bar {cls}" x="{lx}" y="38" width="12" height="12" rx="2"/>'
            f'<text class="ts-chart-legend" x="{lx + 18}" y="48">{escape(text)}</text>'
        )
        lx += 40 + 8 * len(text) + (6 * sum(1 for ch in text if ord(ch) > 0x2E80))
    return _frame(width, height, title, "".join(body), css)


def _short(value: float) -> str:
    """Axis labels: 1.2M, 340K, 12."""
    if value >= 1_000_000:
        return f"{_fmt(value / 1_000_000)}M"
    if value >= 1_000:
        return f"{_fmt(value / 1_000)}K"
    return _fmt(value)
