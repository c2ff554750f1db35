"""Uptime from transitions and latency percentiles from rollup histograms."""

from __future__ import annotations

from datetime import timedelta

import pytest

from integrations import clock
from integrations.models import Endpoint, HealthTransition, HourlyRollup
from integrations.selectors import endpoint_latency, endpoint_uptime
from integrations.services.rollups import bucket_field, histogram_percentile
from tests.factories import make_endpoint

pytestmark = pytest.mark.django_db


def transition(endpoint: Endpoint, hours_ago: float, from_state: str, to_state: str) -> None:
    HealthTransition.objects.create(
        endpoint=endpoint,
        at=clock.now() - timedelta(hours=hours_ago),
        from_state=from_state,
        to_state=to_state,
    )


def test_uptime_counts_the_time_spent_down_from_state_changes() -> None:
    endpoint = make_endpoint()
    transition(endpoint, 30, "unknown", "healthy")
    transition(endpoint, 6, "healthy", "down")
    transition(endpoint, 3, "down", "healthy")  # 3 of the last 24 hours down
    assert endpoint_uptime(endpoint=endpoint, window=timedelta(hours=24)) == pytest.approx(
        21 / 24, abs=1e-4
    )


def test_uptime_ignores_time_whose_state_was_unknown() -> None:
    endpoint = make_endpoint()
    transition(endpoint, 2, "unknown", "healthy")
    transition(endpoint, 1, "healthy", "blocked_by_auth")
    assert endpoint_uptime(endpoint=endpoint, window=timedelta(days=7)) == pytest.approx(
        0.5, abs=1e-4
    )
    assert endpoint_uptime(endpoint=make_endpoint(), window=timedelta(days=1)) is None


def test_percentiles_are_read_from_the_histogram_buckets() -> None:
    buckets = [0] * 12
    for latency in [3] * 50 + [40] * 45 + [900] * 5:
        buckets[int(bucket_field(latency).removeprefix("bucket_").replace("inf", "11"))] += 1
    assert histogram_percentile(buckets, 0.5) == 5
    assert histogram_percentile(buckets, 0.95) == 50
    assert histogram_percentile(buckets, 0.99) == 1000
    assert histogram_percentile([0] * 12, 0.5) is None


def test_endpoint_latency_sums_rollups_over_the_window() -> None:
    endpoint = make_endpoint()
    hour = clock.now().replace(minute=0, second=0, microsecond=0)
    HourlyRollup.objects.create(
        endpoint=endpoint, hour=hour, count=10, latency_count=10, latency_sum_ms=100, bucket_1=10
    )
    HourlyRollup.objects.create(
        endpoint=endpoint,
        hour=hour - timedelta(hours=1),
        count=10,
        latency_count=10,
        latency_sum_ms=2000,
        bucket_5=10,
    )
    HourlyRollup.objects.create(
        endpoint=endpoint,
        hour=hour - timedelta(days=3),
        count=99,
        latency_count=99,
        latency_sum_ms=1,
        bucket_0=99,
    )
    summary = endpoint_latency(endpoint=endpoint, window=timedelta(hours=24))
    assert summary.count == 20 and summary.mean_ms == pytest.approx(105)
    assert summary.p50_ms == 10 and summary.p95_ms == 250
