"""Hourly rollups and per-endpoint counters: additive tallies updated as probe results
land, and read back.

Rollups are per (endpoint, hour), for windows; counters (ProbeCounter) per endpoint and
only ever grow, for /metrics. Both are added to by the same statements' transaction.
Latency percentiles come from the fixed log-scale histogram: the upper bound of the
bucket where the cumulative count crosses the quantile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Min, Q, Sum

from integrations.models import HourlyRollup, ProbeCounter, ProbeResult
from integrations.models.health import BUCKET_FIELDS, FAILURE_FIELDS, LATENCY_BUCKETS_MS
from integrations.services.bulk_sql import column_arrays, field_columns, unnest_source


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def bucket_field(latency_ms: float) -> str:
    for index, bound in enumerate(LATENCY_BUCKETS_MS):
        if latency_ms <= bound:
            return BUCKET_FIELDS[index]
    return "bucket_inf"


@dataclass
class _Delta:
    values: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    latency_min: float | None = None
    latency_max: float | None = None

    def add(self, *, ok: bool, error_class: str, latency_ms: float | None, lag_ms: float) -> None:
        self.values["count"] += 1
        self.values["lag_sum_ms"] += lag_ms
        if ok:
            self.values["successes"] += 1
        else:
            self.values[FAILURE_FIELDS.get(error_class, "fail_other")] += 1
        if latency_ms is not None:
            self.values["latency_count"] += 1
            self.values["latency_sum_ms"] += latency_ms
            self.values[bucket_field(latency_ms)] += 1
            low, high = self.latency_min, self.latency_max
            self.latency_min = latency_ms if low is None else min(low, latency_ms)
            self.latency_max = latency_ms if high is None else max(high, latency_ms)


def _deltas(
    results: Iterable[ProbeResult], missed: dict[tuple[int, datetime], int]
) -> dict[tuple[int, datetime], _Delta]:
    deltas: dict[tuple[int, datetime], _Delta] = defaultdict(_Delta)
    for result in results:
        key = (result.endpoint_id, hour_of(result.started_at))
        deltas[key].add(
            ok=result.ok,
            error_class=result.error_class,
            latency_ms=result.latency_ms,
            lag_ms=result.lag_ms,
        )
    for key, count in missed.items():
        deltas[key].values["missed"] += count
    return deltas


ADDITIVE = [
    "count",
    "successes",
    *FAILURE_FIELDS.values(),
    "missed",
    "latency_count",
    "latency_sum_ms",
    *BUCKET_FIELDS,
]


COUNTER_ADDITIVE = [*ADDITIVE, "lag_sum_ms"]
FLOAT_COLUMNS = {"latency_sum_ms", "lag_sum_ms"}


@dataclass(frozen=True)
class _Target:
    """A table of tallies: its key columns, the ones that add up, whether it keeps extremes."""

    model: Any
    key: list[str]
    additive: list[str]
    extremes: bool

    def columns(self) -> list[str]:
        extremes = ["latency_min_ms", "latency_max_ms"] if self.extremes else []
        return [*self.key, *self.additive, *extremes]


ROLLUPS = _Target(HourlyRollup, key=["endpoint", "hour"], additive=ADDITIVE, extremes=True)
COUNTERS = _Target(ProbeCounter, key=["endpoint"], additive=COUNTER_ADDITIVE, extremes=False)


def _upsert_sql(target: _Target, rows: int) -> str:
    """A multi-row upsert: counters add up, min and max keep the extreme.

    On PostgreSQL the rows come from arrays (one parameter per column, whatever
    ``rows`` is); elsewhere from a VALUES list of ``rows`` rows.
    """
    table = target.model._meta.db_table
    columns = field_columns(target.model, target.columns())
    updates = [f"{c} = {table}.{c} + excluded.{c}" for c in target.additive]
    extremes = (("latency_min_ms", "<"), ("latency_max_ms", ">")) if target.extremes else ()
    for column, better in extremes:
        updates.append(
            f"{column} = CASE WHEN {table}.{column} IS NULL OR excluded.{column} {better} "
            f"{table}.{column} THEN excluded.{column} ELSE {table}.{column} END"
        )
    if connection.vendor == "postgresql":
        source = f"SELECT * FROM {unnest_source(columns)}"  # noqa: S608 (identifiers only)
    else:
        row = "(" + ", ".join(["%s"] * len(columns)) + ")"
        source = f"VALUES {', '.join([row] * rows)}"
    key = ", ".join(column for column, _ in columns[: len(target.key)])
    # Identifiers come from the model's metadata; every value is a parameter.
    return (
        f"INSERT INTO {table} ({', '.join(name for name, _ in columns)}) {source} "
        f"ON CONFLICT ({key}) DO UPDATE SET {', '.join(updates)}"
    )


def _tallies(delta: _Delta, names: list[str]) -> list[float]:
    # One type per column: PostgreSQL arrays cannot mix 0 (no latency) with floats.
    return [
        float(delta.values.get(name, 0))
        if name in FLOAT_COLUMNS
        else int(delta.values.get(name, 0))
        for name in names
    ]


def _per_endpoint(deltas: dict[tuple[int, datetime], _Delta]) -> dict[int, _Delta]:
    totals: dict[int, _Delta] = defaultdict(_Delta)
    for (endpoint_id, _), delta in deltas.items():
        for name, value in delta.values.items():
            totals[endpoint_id].values[name] += value
    return totals


def _upsert(target: _Target, params: list[list[Any]]) -> None:
    # Each key occurs once, so one statement may upsert them all.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_upsert_sql(target, len(params)), column_arrays(params))
            return
        for start in range(0, len(params), 500):
            chunk = params[start : start + 500]
            cursor.execute(
                _upsert_sql(target, len(chunk)), [value for row in chunk for value in row]
            )


def rollups_add(
    *, results: list[ProbeResult], missed: dict[tuple[int, datetime], int] | None = None
) -> None:
    """Add newly stored results to their hours' rollups, one upsert per (endpoint, hour),
    and to their endpoints' ever-growing counters, one upsert per endpoint.

    ``missed`` counts slots never probed per (endpoint, hour); they are not results.

    Callers hold the endpoints' health rows locked inside the transaction that stores
    the results, so no one else updates these rows meanwhile and the counters move
    exactly when the results commit.
    """
    deltas = _deltas(results, missed or {})
    if not deltas:
        return
    hour_field = HourlyRollup._meta.get_field("hour")
    rollups = [
        [
            endpoint_id,
            hour_field.get_db_prep_save(hour, connection),
            *_tallies(delta, ADDITIVE),
            delta.latency_min,
            delta.latency_max,
        ]
        for (endpoint_id, hour), delta in deltas.items()
    ]
    _upsert(ROLLUPS, rollups)
    counters = [
        [endpoint_id, *_tallies(delta, COUNTER_ADDITIVE)]
        for endpoint_id, delta in sorted(_per_endpoint(deltas).items())
    ]
    _upsert(COUNTERS, counters)


def rollup_from_raw(*, endpoint_id: int, hour: datetime, until: datetime) -> dict[str, Any]:
    """Recompute one hour's counters from raw results (to reconcile and to test)."""
    every = ProbeResult.objects.filter(
        endpoint_id=endpoint_id, started_at__gte=hour, started_at__lt=until
    )
    missed = every.exclude(missed_reason="").count()
    rows = every.filter(missed_reason="")
    aggregates: dict[str, Any] = {
        "count": Count("id"),
        "successes": Count("id", filter=Q(ok=True)),
        "latency_count": Count("latency_ms"),
        "latency_sum_ms": Sum("latency_ms"),
        "latency_min_ms": Min("latency_ms"),
        "latency_max_ms": Max("latency_ms"),
    }
    for error_class, name in FAILURE_FIELDS.items():
        aggregates[name] = Count("id", filter=Q(ok=False, error_class=error_class))
    lower = 0.0
    for index, bound in enumerate(LATENCY_BUCKETS_MS):
        aggregates[BUCKET_FIELDS[index]] = Count(
            "id",
            filter=Q(latency_ms__gt=lower, latency_ms__lte=bound)
            if index
            else Q(latency_ms__lte=bound),
        )
        lower = bound
    aggregates["bucket_inf"] = Count("id", filter=Q(latency_ms__gt=LATENCY_BUCKETS_MS[-1]))
    values = rows.aggregate(**aggregates)
    values["latency_sum_ms"] = values["latency_sum_ms"] or 0.0
    values["missed"] = missed
    return values


def histogram_percentile(buckets: list[int], quantile: float) -> float | None:
    """The latency (ms) under which ``quantile`` of the samples fall, from bucket counts."""
    total = sum(buckets)
    if total == 0:
        return None
    threshold = quantile * total
    running = 0
    bounds = [*LATENCY_BUCKETS_MS, float("inf")]
    for count, bound in zip(buckets, bounds, strict=True):
        running += count
        if running >= threshold:
            return float(bound)
    return float(bounds[-1])
