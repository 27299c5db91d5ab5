"""The dashboard's trend chart as server-rendered SVG geometry: stacked bars per day, one colour
per rule, each segment a link to its hits, and a line over the daily total.

Why on the server: the chart is small (≤ a few hundred segments), needs no interaction beyond a
tooltip (SVG ``<title>``) and a link, and so ships no charting library; the data table next to
it carries the same numbers for screen readers (UI.md: every chart has a data table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from qc_service.insights.dashboard import Trend

PALETTE = ("#2f6fde", "#d9822b", "#1c9a6c", "#b8336a", "#7a5cc4", "#5f7d1e", "#c23b22", "#0f7c8c")
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 720, 240, 40, 28, 10


@dataclass(slots=True)
class Segment:
    x: float
    y: float
    w: float
    h: float
    color: str
    title: str
    href: str


@dataclass(slots=True)
class Chart:
    width: int
    height: int
    segments: list[Segment] = field(default_factory=list)
    line: str = ""
    """SVG polyline points of the daily totals."""
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, int]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    """(colour, rule id)."""


def _nice_max(n: int) -> int:
    for step in (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000):
        if n <= step:
            return step
    return (n // 10_000 + 1) * 10_000


def stacked_bars(trend: Trend, href: Callable[[str, str], str]) -> Chart:
    """Geometry for ``trend``; ``href(day, rule)`` is the drill-down of one segment."""
    chart = Chart(WIDTH, HEIGHT)
    colours = {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(trend.rules)}
    chart.legend = [(colours[r], r) for r in trend.rules]
    days: list[date] = trend.days
    if not days:
        return chart
    top = _nice_max(max((trend.total(d) for d in days), default=0))
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = (WIDTH - PAD_LEFT) / len(days)
    bar = max(2.0, slot * 0.7)
    scale = plot_h / top
    points = []
    label_every = max(1, len(days) // 10)
    for i, d in enumerate(days):
        x = PAD_LEFT + i * slot + (slot - bar) / 2
        y = HEIGHT - PAD_BOTTOM
        for r in trend.rules:
            n = trend.counts.get((d, r), 0)
            if not n:
                continue
            h = n * scale
            y -= h
            chart.segments.append(Segment(round(x, 1), round(y, 1), round(bar, 1), round(h, 1),
                                          colours[r], f"{d.isoformat()} {r}: {n}",
                                          href(d.isoformat(), r)))  # fmt: skip
        points.append(f"{x + bar / 2:.1f},{HEIGHT - PAD_BOTTOM - trend.total(d) * scale:.1f}")
        if i % label_every == 0:
            chart.x_labels.append((round(x + bar / 2, 1), d.strftime("%m-%d")))
    chart.line = " ".join(points)
    chart.y_ticks = [(round(HEIGHT - PAD_BOTTOM - v * scale, 1), v) for v in (0, top // 2, top)]
    return chart
