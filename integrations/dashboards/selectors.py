"""Reads of one environment's dashboard page: uptime of many endpoints at once, the
latency chart's series, recent failures, state changes and credential status.

Like integrations.selectors, these read the health read models (transitions, rollups,
token cache rows); raw probe results only for the newest failures, by index, with a
time bound and a LIMIT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum

from integrations import clock
from integrations.choices import HealthState, RefreshOutcome
from integrations.models import (
    Endpoint,
    Environment,
    HealthTransition,
    HourlyRollup,
    OAuthClient,
    ProbeResult,
    TestUser,
)
from integrations.models.health import BUCKET_FIELDS
from integrations.selectors import DOWN_STATES, UP_STATES, rollup_totals
from integrations.services.rollups import histogram_percentile, hour_of
from integrations.services.tokens import failure_next_attempt_at

UPTIME_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
# Recent failures are looked up this far back only, so the index scan stays short.
RECENT_FAILURES_WINDOW = timedelta(days=7)
HOUR = timedelta(hours=1)


def endpoints_uptimes(*, endpoint_ids: list[int]) -> dict[int, dict[str, float | None]]:
    """uptimes() for many endpoints in two queries: the 30 days' changes and the state before."""
    now = clock.now()
    since = now - max(UPTIME_WINDOWS.values())
    before = HealthTransition.objects.filter(endpoint_id=OuterRef("pk"), at__lt=since)
    initial = dict(
        Endpoint.objects.filter(pk__in=endpoint_ids)
        .annotate(state=Subquery(before.order_by("-at", "-id").values("to_state")[:1]))
        .values_list("pk", "state")
    )
    changes: dict[int, list[tuple[datetime, str]]] = {pk: [] for pk in endpoint_ids}
    rows = HealthTransition.objects.filter(endpoint_id__in=endpoint_ids, at__gte=since, at__lte=now)
    for pk, at, to_state in rows.order_by("at", "id").values_list("endpoint_id", "at", "to_state"):
        changes[pk].append((at, to_state))
    return {
        pk: {
            name: _uptime(initial.get(pk) or HealthState.UNKNOWN, changes[pk], now - window, now)
            for name, window in UPTIME_WINDOWS.items()
        }
        for pk in endpoint_ids
    }


def endpoints_missed(*, endpoint_ids: list[int]) -> dict[int, dict[str, int]]:
    """Slots never probed per endpoint over the uptime windows, from the rollups (one query)."""
    now = clock.now()
    sums = {
        name: Sum("missed", filter=Q(hour__gte=hour_of(now - window)))
        for name, window in UPTIME_WINDOWS.items()
    }
    rows = (
        HourlyRollup.objects.filter(
            endpoint_id__in=endpoint_ids, hour__gte=hour_of(now - max(UPTIME_WINDOWS.values()))
        )
        .values_list("endpoint_id")
        .annotate(**sums)
        .order_by()
    )
    missed = {pk: dict.fromkeys(UPTIME_WINDOWS, 0) for pk in endpoint_ids}
    for pk, *counts in rows:
        missed[pk] = {name: n or 0 for name, n in zip(UPTIME_WINDOWS, counts, strict=True)}
    return missed


def _uptime(
    state: str, changes: list[tuple[datetime, str]], since: datetime, now: datetime
) -> float | None:
    """Share of [since, now] spent up, of the time whose state was known (as endpoint_uptime)."""
    up = known = 0.0
    cursor = since
    for at, to_state in [*changes, (now, "")]:
        if at >= since:
            seconds = (at - cursor).total_seconds()
            up += seconds if state in UP_STATES else 0.0
            known += seconds if state in UP_STATES | DOWN_STATES else 0.0
            cursor = at
        state = to_state
    return up / known if known > 0 else None


def environment_latency_series(
    *, environment: Environment, since: datetime, endpoint: Endpoint | None = None
) -> list[tuple[datetime, float | None, float | None]]:
    """(hour, p50, p95) per hour over the environment's (or one endpoint's) rollups."""
    scope = {"endpoint": endpoint} if endpoint else {"endpoint__environment": environment}
    totals = rollup_totals(group_by="hour", since=since, fields=BUCKET_FIELDS, **scope)
    series = []
    for hour in sorted(totals):
        buckets = [int(totals[hour][name]) for name in BUCKET_FIELDS]
        series.append(
            (hour, histogram_percentile(buckets, 0.5), histogram_percentile(buckets, 0.95))
        )
    return series


def recent_failures(*, endpoint_ids: list[int], limit: int = 20) -> list[ProbeResult]:
    """The newest failed probes of these endpoints (messages are stored redacted).

    The rollups say which endpoint-hours had failures, so only those hours' raw rows are
    read, by the (endpoint, started_at) index: the cost follows the probe rate, not how
    many raw results are stored.
    """
    since = clock.now() - RECENT_FAILURES_WINDOW
    failing_hours = (
        HourlyRollup.objects.filter(endpoint_id__in=endpoint_ids, hour__gte=hour_of(since))
        .filter(successes__lt=F("count"))
        .order_by("-hour")
        .values_list("endpoint_id", "hour")[:limit]
    )
    slots = Q()
    for endpoint_id, hour in failing_hours:
        slots |= Q(endpoint_id=endpoint_id, started_at__gte=hour, started_at__lt=hour + HOUR)
    if not slots:
        return []
    return list(
        ProbeResult.objects.filter(slots, ok=False, missed_reason="", started_at__gte=since)
        .select_related("endpoint")
        .defer("steps")
        .order_by("-started_at")[:limit]
    )


def recent_transitions(*, endpoint_ids: list[int], limit: int = 30) -> QuerySet[HealthTransition]:
    return (
        HealthTransition.objects.filter(endpoint_id__in=endpoint_ids)
        .select_related("endpoint")
        .order_by("-at", "-id")[:limit]
    )


@dataclass(frozen=True)
class CredentialStatus:
    """A credential's cached token as a dashboard shows it; never the token itself."""

    kind: str  # "oauth_client" or "test_user"
    name: str
    expires_at: datetime | None
    fetched_at: datetime | None
    next_refresh_at: datetime | None
    last_outcome: str
    last_error_code: str
    consecutive_failures: int
    next_attempt_at: datetime | None = None  # while a failed fetch is not repeated
    last_error_at: datetime | None = None

    @property
    def failing(self) -> bool:
        """Refresh failing: TOKEN_FAILING_AFTER or more failures in a row, the definition
        the overview's "Failing refresh" column counts."""
        return self.consecutive_failures >= settings.TOKEN_FAILING_AFTER

    @property
    def refresh_failed(self) -> bool:
        """The newest fetch failed: a cached token still shown is not being renewed."""
        return self.last_outcome == RefreshOutcome.FAILED

    @property
    def refresh_problem(self) -> str:
        """What the token cell says before the expiry: one failure is not yet "failing"."""
        if self.failing:
            return "refresh failing"
        return "last refresh failed" if self.refresh_failed else ""


def environment_credentials(*, environment: Environment) -> list[CredentialStatus]:
    clients = OAuthClient.objects.filter(environment=environment).select_related("access_token")
    users = TestUser.objects.filter(customer_auth__environment=environment).select_related(
        "session", "customer_auth"
    )
    statuses = [
        _credential("oauth_client", c.client_id, _cached(c, "access_token")) for c in clients
    ]
    statuses += [_credential("test_user", u.label, _cached(u, "session")) for u in users]
    return statuses


def endpoint_credentials(*, endpoint: Endpoint) -> list[CredentialStatus]:
    """The cached tokens this endpoint's probes use, as the environment page shows them.

    Reads the rows ``endpoint_selectors.endpoint_detail_queryset`` joined: no query of its own.
    """
    statuses = []
    if endpoint.oauth_client is not None:
        client = endpoint.oauth_client
        token = _cached(client, "access_token")
        statuses.append(_credential("oauth_client", client.client_id, token))
    if endpoint.default_test_user is not None:
        user = endpoint.default_test_user
        statuses.append(_credential("test_user", user.label, _cached(user, "session")))
    return statuses


def _cached(owner: Any, name: str) -> Any:
    return getattr(owner, name, None)  # the reverse one-to-one raises when there is no row


def _credential(kind: str, name: str, token: Any) -> CredentialStatus:
    return CredentialStatus(
        kind=kind,
        name=name,
        expires_at=token.expires_at if token else None,
        fetched_at=token.fetched_at if token else None,
        next_refresh_at=token.next_refresh_at if token else None,
        last_outcome=token.last_outcome if token else "never",
        last_error_code=token.last_error_code if token else "",
        consecutive_failures=token.consecutive_failures if token else 0,
        next_attempt_at=failure_next_attempt_at(row=token),
        last_error_at=token.last_error_at if token else None,
    )
