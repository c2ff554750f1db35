"""Reads for dashboards and the API: health, uptime and latency from the read models.

Nothing here scans raw probe results: current state comes from EndpointHealth,
latency from HourlyRollup histograms, uptime from HealthTransition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    Max,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)

from integrations import clock
from integrations.choices import HealthState
from integrations.models import (
    AccessToken,
    Endpoint,
    EndpointHealth,
    Environment,
    HealthTransition,
    HourlyRollup,
    UserSession,
)
from integrations.models.health import BUCKET_FIELDS
from integrations.services.rollups import histogram_percentile, hour_of

UP_STATES = {HealthState.HEALTHY, HealthState.DEGRADED}
DOWN_STATES = {HealthState.DOWN, HealthState.BLOCKED_BY_AUTH}


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float | None


def latency_summary(rollups: QuerySet[HourlyRollup]) -> LatencySummary:
    """Percentiles and mean over the given rollup rows (any hours, any endpoints)."""
    totals: dict[str, Any] = rollups.aggregate(
        latency_count=Sum("latency_count"),
        latency_sum_ms=Sum("latency_sum_ms"),
        **{name: Sum(name) for name in BUCKET_FIELDS},
    )
    buckets = [int(totals[name] or 0) for name in BUCKET_FIELDS]
    count = int(totals["latency_count"] or 0)
    mean = (totals["latency_sum_ms"] or 0.0) / count if count else None
    return LatencySummary(
        count=count,
        p50_ms=histogram_percentile(buckets, 0.50),
        p95_ms=histogram_percentile(buckets, 0.95),
        p99_ms=histogram_percentile(buckets, 0.99),
        mean_ms=mean,
    )


def endpoint_latency(*, endpoint: Endpoint, window: timedelta) -> LatencySummary:
    since = clock.now() - window
    return latency_summary(HourlyRollup.objects.filter(endpoint=endpoint, hour__gte=since))


def endpoint_uptime(*, endpoint: Endpoint, window: timedelta) -> float | None:
    """Share of the window spent up (healthy or degraded), of the time whose state was known.

    Built from state transitions: the state at the window's start is the last
    transition before it. None when the state was unknown the whole window.
    """
    now = clock.now()
    since = now - window
    before = HealthTransition.objects.filter(endpoint=endpoint, at__lt=since).order_by("-at", "-id")
    state = before.values_list("to_state", flat=True).first() or HealthState.UNKNOWN
    changes = HealthTransition.objects.filter(endpoint=endpoint, at__gte=since, at__lte=now)
    up = known = 0.0
    cursor = since
    for at, to_state in changes.order_by("at", "id").values_list("at", "to_state"):
        up, known = _accumulate(state, (at - cursor).total_seconds(), up, known)
        state, cursor = to_state, at
    up, known = _accumulate(state, (now - cursor).total_seconds(), up, known)
    return up / known if known > 0 else None


def _accumulate(state: str, seconds: float, up: float, known: float) -> tuple[float, float]:
    if state in UP_STATES:
        return up + seconds, known + seconds
    if state in DOWN_STATES:
        return up, known + seconds
    return up, known


def uptimes(*, endpoint: Endpoint) -> dict[str, float | None]:
    """Uptime over the dashboard's three windows."""
    windows = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
    return {name: endpoint_uptime(endpoint=endpoint, window=w) for name, w in windows.items()}


def hourly_latency_series(
    *, endpoint: Endpoint, since: datetime
) -> list[tuple[datetime, float | None, float | None]]:
    """(hour, p50, p95) per hour from the endpoint's rollups, for charts."""
    rows = HourlyRollup.objects.filter(endpoint=endpoint, hour__gte=since).order_by("hour")
    series = []
    for row in rows.only("hour", *BUCKET_FIELDS):
        buckets = [getattr(row, name) for name in BUCKET_FIELDS]
        series.append(
            (row.hour, histogram_percentile(buckets, 0.5), histogram_percentile(buckets, 0.95))
        )
    return series


# --- Overview: every customer and environment, in a fixed handful of queries ----------

# Worst first; an environment's state is the worst state of its probed endpoints.
STATE_SEVERITY: dict[str, int] = {
    HealthState.DOWN: 4,
    HealthState.BLOCKED_BY_AUTH: 3,
    HealthState.DEGRADED: 2,
    HealthState.UNKNOWN: 1,
    HealthState.HEALTHY: 0,
}
STATE_VALUES: list[str] = list(HealthState.values)
STATES_WORST_FIRST: list[str] = sorted(STATE_VALUES, key=lambda s: -STATE_SEVERITY[s])
# Hours of rollups behind the overview's p95 and the metrics: the current hour and the 23
# before it (the current hour is partial, so the window is 23 to 24 hours long).
ROLLUP_WINDOW_HOURS = 24
ENVIRONMENT_FIELDS = (
    "pk", "customer__slug", "customer__name", "slug", "name", "kind", "is_enabled"
)  # fmt: skip


@dataclass(slots=True)
class EnvironmentOverview:
    """One environment's line on the overview. The fields after ``last_probe_at`` are
    filled in by overview_complete, for the rows about to be shown."""

    environment_id: int
    customer_slug: str
    customer_name: str
    environment_slug: str
    environment_name: str
    kind: str
    is_enabled: bool
    state: str
    states: dict[str, int]
    endpoints: int
    last_probe_at: datetime | None
    p95_ms: float | None = None
    failing_step: str = ""
    token_expires_at: datetime | None = None
    token_expires_in_s: int | None = None  # negative once the nearest expiry has passed
    credentials_failing: int = 0
    gaps: int = 0  # probed endpoints with no probe for two intervals


def worst_state(states: dict[str, int]) -> str:
    return next((s for s in STATES_WORST_FIRST if states.get(s)), HealthState.UNKNOWN)


def rollup_window_start(now: datetime) -> datetime:
    return hour_of(now) - timedelta(hours=ROLLUP_WINDOW_HOURS - 1)


def rollup_totals(
    *, group_by: str, since: datetime, fields: list[str], **filters: Any
) -> dict[Any, dict[str, float]]:
    """Rollup counters summed in SQL per ``group_by`` value (e.g. an environment id)."""
    rows = (
        HourlyRollup.objects.filter(hour__gte=since, **filters)
        .values_list(group_by)
        .annotate(*[Sum(name) for name in fields])
        .order_by()
    )
    return {key: {f: v or 0 for f, v in zip(fields, sums, strict=True)} for key, *sums in rows}


def overview(*, customer: str | None = None, state: str | None = None) -> list[EnvironmentOverview]:
    """Every environment of every active customer with its endpoints' states, worst first.

    One query, however many endpoints. ``customer`` keeps one customer (by slug);
    ``state`` keeps environments with at least one probed endpoint in that state.
    Pass the rows to be shown to overview_complete for the rest of their figures.
    """
    now = clock.now()
    probed = Q(endpoints__probe_enabled=True)
    counts = {
        f"n_{s}": Count("endpoints", filter=probed & Q(endpoints__health__state=s))
        for s in STATE_VALUES
    }
    scope = Environment.objects.filter(customer__is_active=True)
    if customer:
        scope = scope.filter(customer__slug=customer)
    envs = (
        scope.values_list(*ENVIRONMENT_FIELDS)
        .annotate(
            total=Count("endpoints", filter=probed),
            age=_age(now, Max("endpoints__health__last_probe_at", filter=probed)),
            **counts,
        )
        .order_by("customer__name", "name")
    )
    rows = [_overview_row(env, now) for env in envs]
    if state:
        rows = [row for row in rows if row.states.get(state) or row.state == state]
    return sorted(rows, key=lambda row: -STATE_SEVERITY[row.state])


def _age(now: datetime, moment: Any) -> ExpressionWrapper:
    # Ages come back as intervals: loading thousands of them is cheaper than timestamps.
    return ExpressionWrapper(
        Value(now, output_field=DateTimeField()) - moment, output_field=DurationField()
    )


def _overview_row(env: tuple[Any, ...], now: datetime) -> EnvironmentOverview:
    env_id, customer_slug, customer_name, slug, name, kind, is_enabled, total, age, *counts = env
    states = dict(zip(STATE_VALUES, counts, strict=True))
    # Endpoints not probed yet have no health row: they are unknown.
    states[HealthState.UNKNOWN] = total - (sum(counts) - states[HealthState.UNKNOWN])
    return EnvironmentOverview(
        environment_id=env_id,
        customer_slug=customer_slug,
        customer_name=customer_name,
        environment_slug=slug,
        environment_name=name,
        kind=kind,
        is_enabled=is_enabled,
        state=worst_state(states),
        states=states,
        endpoints=total,
        last_probe_at=now - age if age is not None else None,
    )


def overview_totals(rows: list[EnvironmentOverview]) -> dict[str, int]:
    """Probed endpoints per state over the given rows."""
    totals = dict.fromkeys(STATE_VALUES, 0)
    for row in rows:
        for state, count in row.states.items():
            totals[state] += count
    return totals


def overview_complete(rows: list[EnvironmentOverview]) -> list[EnvironmentOverview]:
    """Fill in p95 over 24 h, failing step, monitoring gaps and token figures of these rows
    (five queries over just their environments, so a page costs the same at any size)."""
    now = clock.now()
    ids = [row.environment_id for row in rows]
    # Endpoint ids as a subquery, not a join: PostgreSQL then reads each endpoint's
    # hours from the (endpoint, hour) index instead of every endpoint's day by hour.
    probed = Endpoint.objects.filter(environment_id__in=ids, probe_enabled=True)
    buckets = rollup_totals(
        group_by="endpoint__environment_id",
        since=rollup_window_start(now),
        fields=BUCKET_FIELDS,
        endpoint_id__in=probed.values("pk"),
    )
    steps = _failing_steps_by_environment(ids)
    tokens = _tokens_by_environment(ids)
    gaps = dict(
        EndpointHealth.objects.filter(
            endpoint__in=probed, endpoint__environment__is_enabled=True, monitoring_gap_at__lt=now
        )
        .values_list("endpoint__environment_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        row.gaps = gaps.get(row.environment_id, 0)
        env_buckets = buckets.get(row.environment_id, {})
        row.p95_ms = histogram_percentile([int(env_buckets.get(f, 0)) for f in BUCKET_FIELDS], 0.95)
        row.failing_step = steps.get(row.environment_id, "")
        token = tokens.get(row.environment_id, {})
        row.token_expires_at = token.get("expires_at")
        if row.token_expires_at is not None:
            row.token_expires_in_s = int((row.token_expires_at - now).total_seconds())
        row.credentials_failing = token.get("failing", 0)
    return rows


def _failing_steps_by_environment(ids: list[int]) -> dict[int, str]:
    """The failing step most of an environment's unhealthy endpoints share."""
    rows = (
        EndpointHealth.objects.filter(
            endpoint__probe_enabled=True, endpoint__environment_id__in=ids
        )
        .exclude(state=HealthState.HEALTHY)
        .exclude(failing_step="")
        .values_list("endpoint__environment_id", "failing_step")
        .annotate(n=Count("pk"))
        .order_by("endpoint__environment_id", "-n", "failing_step")
    )
    steps: dict[int, str] = {}
    for env_id, step, _ in rows:
        steps.setdefault(env_id, step)
    return steps


def _tokens_by_environment(ids: list[int]) -> dict[int, dict[str, Any]]:
    """Nearest expiry and failing refresh count of the cached tokens, per environment."""
    failing = Q(consecutive_failures__gte=settings.TOKEN_FAILING_AFTER)
    merged: dict[int, dict[str, Any]] = {}
    for model, env in (
        (AccessToken, "oauth_client__environment_id"),
        (UserSession, "test_user__customer_auth__environment_id"),
    ):
        rows = (
            model.objects.filter(**{f"{env}__in": ids})
            .values_list(env)
            .annotate(nearest=Min("expires_at"), failing=Count("pk", filter=failing))
            .order_by()
        )
        for env_id, nearest, failures in rows:
            row = merged.setdefault(env_id, {"expires_at": None, "failing": 0})
            if nearest is not None and (row["expires_at"] is None or nearest < row["expires_at"]):
                row["expires_at"] = nearest
            row["failing"] += failures
    return merged
