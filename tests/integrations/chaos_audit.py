"""The chaos suite's audit: what a step left behind in the results and at the receivers.

For every endpoint, the rows (probes and missed records) due in the window must follow
one another by the interval in force (the probe interval, or the retry interval while
unhealthy): a longer step is a hole, one that is no multiple of an interval is a
misaligned slot. The first row before the window anchors the sequence, so a window that
starts with a hole is seen too.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from django.db.models import Count

from integrations.models import Endpoint, HealthTransition, ProbeResult
from tests.integrations.alert_receiver import AlertReceiver


@dataclass
class Figures:
    """What a chaos step left behind, over the window [start, end]."""

    start: datetime
    end: datetime
    slots: int = 0  # rows (probes and missed records) due in the window
    on_time: int = 0  # probed less than one interval late
    late: int = 0
    missed: Counter[str] = field(default_factory=Counter)
    lost: int = 0  # due slots with no row at all: holes
    misaligned: int = 0  # steps between slots that are no multiple of an interval in force
    duplicates: int = 0  # (endpoint, due time) pairs with more than one row
    longest_gap_s: float = 0.0  # between two probes of one endpoint
    lags_ms: list[float] = field(default_factory=list)
    calls_unrecorded: int = 0  # requests the customer answered whose probe left no row
    transitions: int = 0
    deliveries: int = 0
    duplicate_deliveries: int = 0  # deliveries of an Idempotency-Key seen before
    undelivered: int = 0  # transitions whose alert the receiver never acknowledged
    wrong_keys: int = 0  # deliveries whose key is not their transition's
    workers_restarted: int = 0  # workers that exited by themselves and were replaced

    @property
    def lag_p99_ms(self) -> float:
        ordered = sorted(self.lags_ms)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] if ordered else 0.0

    def summary(self, step: str) -> str:
        missed = ", ".join(f"{reason} {n}" for reason, n in sorted(self.missed.items())) or "0"
        return (
            f"chaos[{step}] window {(self.end - self.start).total_seconds():.0f} s: "
            f"slots {self.slots}, on time {self.on_time}, late {self.late}, "
            f"missed {missed}, lost {self.lost}, misaligned {self.misaligned}, "
            f"duplicates {self.duplicates}, longest gap {self.longest_gap_s:.1f} s, "
            f"lag p99 {self.lag_p99_ms:.0f} ms, calls unrecorded {self.calls_unrecorded}; "
            f"alerts: transitions {self.transitions}, deliveries {self.deliveries}, "
            f"duplicate {self.duplicate_deliveries}, undelivered {self.undelivered}; "
            f"workers restarted {self.workers_restarted}"
        )


Row = tuple[datetime, datetime, float, str]  # due_at, started_at, lag_ms, missed_reason


def _holes(step: timedelta, steps: set[timedelta]) -> int | None:
    """Slots missing in a step between two rows; None when it fits no interval."""
    if step in steps:
        return 0
    multiples = [s for s in steps if step % s == timedelta(0)]
    return int(step / max(multiples)) - 1 if multiples else None


def _endpoint_audit(endpoint: Endpoint, figures: Figures) -> None:
    rows: list[Row] = list(
        ProbeResult.objects.filter(endpoint=endpoint, due_at__lte=figures.end)
        .order_by("due_at")
        .values_list("due_at", "started_at", "lag_ms", "missed_reason")
    )
    steps = {timedelta(seconds=endpoint.probe_interval_s)}
    steps.add(timedelta(seconds=endpoint.retry_interval_s))
    before = [n for n, row in enumerate(rows) if row[0] <= figures.start]
    if not before:  # not even one row before the window: the whole window is a hole
        figures.lost += int((figures.end - figures.start) / max(steps))
        return
    rows = rows[before[-1] :]  # the last slot before the window anchors the sequence
    for previous, row in pairwise(rows):
        holes = _holes(row[0] - previous[0], steps)
        figures.misaligned += holes is None
        figures.lost += holes or 0
    # After the last row: the slots that should have come by the window's end (counted
    # with the longer interval, so that an interval change there is never taken for one).
    figures.lost += int((figures.end - rows[-1][0]) / max(steps))
    _figures_add(figures, [row for row in rows if row[0] >= figures.start], endpoint)
    probes = [row[1] for row in rows if not row[3]]
    gaps = [(b - a).total_seconds() for a, b in pairwise(probes)]
    figures.longest_gap_s = max([figures.longest_gap_s, *gaps])


def _figures_add(figures: Figures, rows: list[Row], endpoint: Endpoint) -> None:
    interval_ms = endpoint.probe_interval_s * 1000
    figures.slots += len(rows)
    for _, _, lag_ms, reason in rows:
        if reason:
            figures.missed[reason] += 1
            continue
        figures.lags_ms.append(lag_ms)
        figures.on_time += lag_ms < interval_ms
        figures.late += lag_ms >= interval_ms


def slots_audit(endpoints: list[Endpoint], *, start: datetime, end: datetime) -> Figures:
    figures = Figures(start=start, end=end)
    for endpoint in endpoints:
        _endpoint_audit(endpoint, figures)
    figures.duplicates = (
        ProbeResult.objects.values("endpoint", "due_at").annotate(n=Count("id")).filter(n__gt=1)
    ).count()
    return figures


def calls_audit(endpoints: list[Endpoint], counts: Counter[str], figures: Figures) -> None:
    """Requests the customer answered beyond the probes recorded, per path (a batch whose
    worker died sent its requests and recorded nothing). Never fewer requests than probes."""
    probes = Counter(
        dict(
            ProbeResult.objects.filter(missed_reason="")
            .values("endpoint")
            .annotate(n=Count("id"))
            .values_list("endpoint", "n")
        )
    )
    extra = {e.path: counts[e.path] - probes[e.pk] for e in endpoints}
    assert min(extra.values()) >= 0, f"probes recorded that the customer never received: {extra}"
    figures.calls_unrecorded = sum(extra.values())


def alerts_audit(hook: AlertReceiver, figures: Figures) -> None:
    deliveries = hook.snapshot()
    transitions = set(HealthTransition.objects.values_list("pk", flat=True))
    acknowledged = hook.acknowledged_per_transition()
    figures.transitions, figures.deliveries = len(transitions), len(deliveries)
    keys = Counter(d.header_key for d in deliveries)
    figures.duplicate_deliveries = sum(n - 1 for n in keys.values())
    figures.undelivered = sum(1 for t in transitions if not acknowledged[t])
    figures.wrong_keys = sum(
        1 for d in deliveries if not d.header_key == d.body_key == str(d.transition_id)
    )


def assert_whole(figures: Figures, *, endpoints: int, transitions: int) -> None:
    """No silent gap, no duplicate, every health change (at least ``transitions``)
    alerted exactly once."""
    assert figures.slots >= endpoints, figures.summary("audit")
    gaps = (figures.lost, figures.misaligned, figures.duplicates)
    assert gaps == (0, 0, 0), f"lost, misaligned, duplicate slots: {figures.summary('audit')}"
    assert figures.transitions >= transitions, figures.summary("audit")
    alerts = (figures.duplicate_deliveries, figures.undelivered, figures.wrong_keys)
    assert alerts == (0, 0, 0), f"duplicate, undelivered, wrongly keyed alerts: {alerts}"
