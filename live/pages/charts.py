"""Server-side SVG line charts (pure): engagement over time as coordinates a template draws."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# The drawing area in SVG user units; the <svg> scales to its container with viewBox.
WIDTH = 640
HEIGHT = 220
# Room for the y-axis labels on the left and the date labels underneath.
PAD_LEFT = 36
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    value: float
    label: str  # what a screen reader and the tooltip say about the point


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    path: str
    points: tuple[ChartPoint, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    thresholds: tuple[Tick, ...]
    left: int = PAD_LEFT
    right: int = WIDTH - PAD_RIGHT
    top: int = PAD_TOP
    bottom: int = HEIGHT - PAD_BOTTOM


def line_chart(
    series: list[tuple[datetime, float]], *, low: float = 0.0, high: float = 100.0, thresholds: tuple[float, ...] = ()
) -> LineChart | None:
    """Points in time order scaled into the drawing area; None when there is nothing to draw."""
    if not series:
        return None
    series = sorted(series, key=lambda item: item[0])
    first, last = series[0][0], series[-1][0]
    span = (last - first).total_seconds()
    inner_w = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_h = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x_of(at: datetime) -> float:
        if span <= 0:
            return PAD_LEFT + inner_w / 2
        return PAD_LEFT + inner_w * (at - first).total_seconds() / span

    def y_of(value: float) -> float:
        clamped = min(max(value, low), high)
        return PAD_TOP + inner_h * (1 - (clamped - low) / (high - low))

    points = tuple(
        ChartPoint(round(x_of(at), 1), round(y_of(value), 1), round(value, 1), f"{at:%Y-%m-%d}: {value:.0f}")
        for at, value in series
    )
    path = " ".join(f"{'M' if i == 0 else 'L'}{p.x},{p.y}" for i, p in enumerate(points))
    y_ticks = tuple(Tick(round(y_of(v), 1), f"{v:.0f}") for v in (low, (low + high) / 2, high))
    x_ticks: tuple[Tick, ...] = (Tick(points[0].x, f"{first:%b %d}"),)
    if span > 0:
        x_ticks += (Tick(points[-1].x, f"{last:%b %d}"),)
    lines = tuple(Tick(round(y_of(v), 1), f"{v:.0f}") for v in thresholds)
    return LineChart(WIDTH, HEIGHT, path, points, y_ticks, x_ticks, lines)
