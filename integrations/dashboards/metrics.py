"""Prometheus metrics at /metrics, computed from the database on every scrape.

A collector builds metric families from a few SQL queries per scrape and keeps nothing
between scrapes (no process-global registry), so every web worker reports the same
database truth.

Gauges say how things are now: endpoint up, endpoints per state, monitoring gaps, token
expiry and refresh failures in a row. Everything counted is a counter or a histogram
read from ProbeCounter rows, which only ever grow (they are incremented in the
transaction that records the probes, and neither pruning nor rollup repairs touch
them): ``portal_probes_total{outcome}``, ``portal_probe_slots_missed_total``,
``portal_probe_schedule_lag_seconds_total`` and the ``portal_probe_latency_seconds``
histogram. So rate(), increase() and histogram_quantile() over rate() of the buckets
give right answers over any range, whichever web worker answered each scrape.

Every probed endpoint gets all its series from its first scrape, at 0 until counted,
so the first failure of a kind is an increase and not a new series. Labels are bounded:
customer, environment and endpoint slugs, one of 13 outcomes, 12 latency buckets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
from integrations.models import AccessToken, Endpoint, EndpointHealth, ProbeCounter, UserSession
from integrations.models.health import BUCKET_FIELDS, FAILURE_FIELDS, LATENCY_BUCKETS_MS
from integrations.selectors import UP_STATES

BUCKET_BOUNDS_S = [str(ms / 1000) for ms in LATENCY_BUCKETS_MS] + ["+Inf"]
OUTCOME_FIELDS = {"ok": "successes", **FAILURE_FIELDS}
COUNTER_FIELDS = [
    *OUTCOME_FIELDS.values(),
    "missed",
    "latency_sum_ms",
    "lag_sum_ms",
    *BUCKET_FIELDS,
]
# An endpoint not probed yet has no counter row: all of its counters are 0.
NO_COUNTS = dict.fromkeys(COUNTER_FIELDS, 0)


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
    """Endpoint health, monitoring gaps, probe counters and latency, token expiry and
    refresh failures: 5 queries."""

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
        return [*self._health(endpoints), *self._counters(endpoints), *self._tokens()]

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

    def _counters(self, endpoints: list[tuple[int, str, str | None]]) -> list[MetricFamily]:
        rows = {
            row["endpoint_id"]: row
            for row in ProbeCounter.objects.filter(endpoint__probe_enabled=True).values(
                "endpoint_id", *COUNTER_FIELDS
            )
        }
        probes = MetricFamily(
            "portal_probes_total",
            "counter",
            "Probes run, by outcome: ok or the error class of the failure.",
        )
        missed = MetricFamily(
            "portal_probe_slots_missed_total",
            "counter",
            "Due probe slots never probed (worker lost, broker down, overdue); not in "
            "portal_probes_total.",
        )
        lag = MetricFamily(
            "portal_probe_schedule_lag_seconds_total",
            "counter",
            "Probe start minus its due time, summed over the probes run; divide its rate by "
            "the rate of portal_probes_total for the mean lag.",
        )
        latency = MetricFamily(
            "portal_probe_latency_seconds",
            "histogram",
            "Latency of each probe's business call; a probe that failed before sending it "
            "(at a token step, in DNS) has none.",
        )
        for pk, labels, _ in endpoints:
            row = rows.get(pk, NO_COUNTS)
            for outcome, name in OUTCOME_FIELDS.items():
                probes.add(f'{labels},outcome="{outcome}"', row[name])
            missed.add(labels, row["missed"])
            lag.add(labels, row["lag_sum_ms"] / 1000)
            latency.add_histogram(labels, _cumulative(row), row["latency_sum_ms"] / 1000)
        return [probes, missed, lag, latency]

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


def _cumulative(row: dict[str, Any]) -> list[tuple[str, int]]:
    running = 0
    buckets = []
    for bound, name in zip(BUCKET_BOUNDS_S, BUCKET_FIELDS, strict=True):
        running += row[name]
        buckets.append((bound, running))
    return buckets
