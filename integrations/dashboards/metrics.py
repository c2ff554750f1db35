"""Prometheus metrics at /metrics, computed from the database on every scrape.

A collector builds metric families from a few SQL aggregates per scrape and keeps
nothing between scrapes (no process-global registry), so every web worker reports the
same database truth.

Latency and probe counts cover the rollup window: the current hour and the 23 hours
before it, summed from hourly rollups. They are window totals, not monotonic counters:
read them directly (histogram_quantile on the buckets, ratios of the counts); rate()
and increase() do not apply.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Avg, Count, Max
from django.http import HttpRequest, HttpResponse

from integrations import clock
from integrations.choices import HealthState
from integrations.dashboards.access import metrics_allowed
from integrations.dashboards.exposition import (
    CONTENT_TYPE,
    MetricFamily,
    exposition,
    labels_text,
)
from integrations.models import AccessToken, Endpoint, EndpointHealth, ProbeResult, UserSession
from integrations.models.health import BUCKET_FIELDS, FAILURE_FIELDS, LATENCY_BUCKETS_MS
from integrations.selectors import UP_STATES, rollup_totals, rollup_window_start

LAG_WINDOW = timedelta(minutes=5)
BUCKET_BOUNDS_S = [str(ms / 1000) for ms in LATENCY_BUCKETS_MS] + ["+Inf"]
OUTCOME_FIELDS = {"ok": "successes", **FAILURE_FIELDS}
WINDOW = "the current hour and the 23 before it, from hourly rollups"


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        response = HttpResponse(
            "Send 'Authorization: Bearer <PORTAL_METRICS_TOKEN or an API token>', or scrape "
            "from an address in PORTAL_METRICS_ALLOW_IPS.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    families = PortalCollector(now=clock.now()).collect()
    return HttpResponse(exposition(families), content_type=CONTENT_TYPE)


class PortalCollector:
    """Endpoint health, monitoring gaps, latency, probe outcomes and missed slots, token
    expiry and schedule lag: 7 queries."""

    def __init__(self, *, now: datetime) -> None:
        self.now = now

    def collect(self) -> list[MetricFamily]:
        rows = (
            Endpoint.objects.filter(probe_enabled=True)
            .values_list(
                "pk", "environment__customer__slug", "environment__slug", "slug", "health__state"
            )
            .order_by("pk")
        )
        # Each endpoint's labels are escaped once and reused for all of its lines.
        endpoints: list[tuple[int, str, str | None]] = [
            (pk, labels_text(customer=c, environment=e, endpoint=s), state)
            for pk, c, e, s, state in rows
        ]
        return [
            *self._health(endpoints),
            *self._rollups(endpoints),
            *self._tokens(),
            *self._lag(),
        ]

    def _health(self, endpoints: list[tuple[int, str, str | None]]) -> list[MetricFamily]:
        up = MetricFamily(
            "portal_endpoint_up",
            "gauge",
            "1 when the endpoint is healthy or degraded; 0 when down, blocked by auth or "
            "not probed yet.",
        )
        counts = dict.fromkeys(HealthState.values, 0)
        for _, labels, state in endpoints:
            state = state or HealthState.UNKNOWN
            counts[state] += 1
            up.add(labels, 1 if state in UP_STATES else 0)
        by_state = MetricFamily("portal_endpoints", "gauge", "Probed endpoints by health state.")
        for state, count in counts.items():
            by_state.add(labels_text(state=state), count)
        gaps = set(
            EndpointHealth.objects.filter(monitoring_gap_at__lt=self.now).values_list(
                "pk", flat=True
            )
        )
        gap = MetricFamily(
            "portal_endpoint_monitoring_gap",
            "gauge",
            "1 when the endpoint has had no probe for two intervals: its state is not current.",
        )
        for pk, labels, _ in endpoints:
            gap.add(labels, 1 if pk in gaps else 0)
        return [up, by_state, gap]

    def _rollups(self, endpoints: list[tuple[int, str, str | None]]) -> list[MetricFamily]:
        totals = rollup_totals(
            group_by="endpoint_id",
            since=rollup_window_start(self.now),
            fields=[*BUCKET_FIELDS, "latency_sum_ms", *OUTCOME_FIELDS.values(), "missed"],
        )
        latency = MetricFamily(
            "portal_probe_latency_seconds", "histogram", f"Probe latency over {WINDOW}."
        )
        probes = MetricFamily(
            "portal_probes",
            "gauge",
            f"Probes over {WINDOW}, by outcome: ok or the error class. A window total: "
            "read it directly, do not rate() it.",
        )
        missed = MetricFamily(
            "portal_probe_slots_missed",
            "gauge",
            f"Due probe slots never probed (worker lost, broker down, overdue) over {WINDOW}.",
        )
        for pk, labels, _ in endpoints:
            row = totals.get(pk)
            if row is None:
                continue
            latency.add_histogram(labels, _cumulative(row), row["latency_sum_ms"] / 1000)
            for outcome, name in OUTCOME_FIELDS.items():
                if row[name]:
                    probes.add(f'{labels},outcome="{outcome}"', row[name])
            missed.add(labels, row["missed"])
        return [latency, probes, missed]

    def _tokens(self) -> list[MetricFamily]:
        expiry = MetricFamily(
            "portal_token_expiry_seconds",
            "gauge",
            "Seconds until the cached token of a credential expires (negative: expired).",
        )
        failures = MetricFamily(
            "portal_token_refresh_failures",
            "gauge",
            "Failed refreshes in a row of a credential's token (0 after a success).",
        )
        sources: list[tuple[Any, str, str, str]] = [
            (AccessToken, "oauth_client", "oauth_client__environment", "oauth_client__client_id"),
            (UserSession, "test_user", "test_user__customer_auth__environment", "test_user__label"),
        ]
        for model, kind, env_path, name_path in sources:
            rows = model.objects.values_list(
                f"{env_path}__customer__slug",
                f"{env_path}__slug",
                name_path,
                "expires_at",
                "consecutive_failures",
            ).order_by("pk")
            for customer, environment, name, expires_at, failed in rows:
                labels = labels_text(
                    customer=customer, environment=environment, kind=kind, credential=name
                )
                if expires_at is not None:
                    expiry.add(labels, (expires_at - self.now).total_seconds())
                failures.add(labels, failed)
        return [expiry, failures]

    def _lag(self) -> list[MetricFamily]:
        probed = ProbeResult.objects.filter(missed_reason="")
        recent = probed.filter(started_at__gte=self.now - LAG_WINDOW).aggregate(
            avg=Avg("lag_ms"), max=Max("lag_ms"), n=Count("pk")
        )
        families = []
        for stat in ("avg", "max"):
            family = MetricFamily(
                f"portal_probe_schedule_lag_{stat}_seconds",
                "gauge",
                f"Probe start minus its due time, {stat} over the last 5 minutes.",
            )
            family.add("", (recent[stat] or 0.0) / 1000)
            families.append(family)
        count = MetricFamily(
            "portal_probes_last_5m", "gauge", "Probes started in the last 5 minutes."
        )
        count.add("", recent["n"])
        return [*families, count]


def _cumulative(row: dict[str, Any]) -> list[tuple[str, int]]:
    running = 0
    buckets = []
    for bound, name in zip(BUCKET_BOUNDS_S, BUCKET_FIELDS, strict=True):
        running += row[name]
        buckets.append((bound, running))
    return buckets
