"""The latency chart as inline SVG geometry, computed here and drawn by a template.

The y axis is logarithmic: percentiles come from the rollups' log-scale histogram
buckets, so they are bucket bounds (5, 10, 25, ... ms) and spread evenly that way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 28
Y_MIN_MS, Y_MAX_MS = 1.0, 20000.0
Y_TICKS_MS = (1, 10, 100, 1000, 10000)


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class LatencyChart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    p50_path: str
    p95_path: str
    p50_dots: list[tuple[float, float]]
    p95_dots: list[tuple[float, float]]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    points: int
    zone: str  # the time zone of the x axis labels (settings.TIME_ZONE)

    @property
    def empty(self) -> bool:
        return self.points == 0


def latency_chart(
    series: list[tuple[datetime, float | None, float | None]], *, since: datetime, until: datetime
) -> LatencyChart:
    """Paths for p50 and p95 per hour; an hour without samples breaks the line."""
    span = max((until - since).total_seconds(), 3600.0)
    hour_px = (WIDTH - LEFT - RIGHT) * 3600 / span

    def x(moment: datetime) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * (moment - since).total_seconds() / span

    return LatencyChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=HEIGHT - BOTTOM,
        p50_path=_path([(x(h), p50) for h, p50, _ in series], hour_px),
        p95_path=_path([(x(h), p95) for h, _, p95 in series], hour_px),
        p50_dots=[(x(h), _y(p50)) for h, p50, _ in series if p50 is not None],
        p95_dots=[(x(h), _y(p95)) for h, _, p95 in series if p95 is not None],
        y_ticks=[Tick(LEFT, _y(ms), _ms_label(ms)) for ms in Y_TICKS_MS],
        x_ticks=_x_ticks(since, until, x),
        points=sum(1 for _, p50, _ in series if p50 is not None),
        zone=timezone.localtime(until, timezone.get_default_timezone()).tzname() or "",
    )


def _y(ms: float) -> float:
    ms = min(max(ms, Y_MIN_MS), Y_MAX_MS)
    share = math.log10(ms / Y_MIN_MS) / math.log10(Y_MAX_MS / Y_MIN_MS)
    return HEIGHT - BOTTOM - share * (HEIGHT - BOTTOM - TOP)


def _path(points: list[tuple[float, float | None]], hour_px: float) -> str:
    parts: list[str] = []
    previous_x: float | None = None
    for px, ms in points:
        if ms is None:
            previous_x = None
            continue
        # A missing hour between two points starts a new segment instead of bridging it.
        joined = previous_x is not None and px - previous_x <= hour_px * 1.5
        parts.append(f"{'L' if joined else 'M'}{px:.1f} {_y(ms):.1f}")
        previous_x = px
    return " ".join(parts)


def _x_ticks(since: datetime, until: datetime, x: Callable[[datetime], float]) -> list[Tick]:
    days = (until - since) > timedelta(hours=36)
    step = timedelta(days=1) if days else timedelta(hours=6)
    first = since.replace(minute=0, second=0, microsecond=0)
    if days:
        first = first.replace(hour=0)
    while first < since:
        first += step
    ticks = []
    moment = first
    while moment <= until:
        local = timezone.localtime(moment, timezone.get_default_timezone())
        label = local.strftime("%b %d") if days else local.strftime("%H:%M")
        ticks.append(Tick(x(moment), HEIGHT - BOTTOM + 16, label))
        moment += step
    return ticks


def _ms_label(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:g} ms"
