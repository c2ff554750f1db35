"""/metrics: Prometheus text that parses, carries the labels, and is not open to everyone."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import TokenScope
from accounts.tokens import api_token_create
from integrations import clock
from integrations.choices import HealthState
from integrations.models import AccessToken, EndpointHealth, OAuthClient, ProbeCounter
from tests.factories import make_environment, make_user
from tests.integrations.dashboard_world import DashboardWorld, dashboard_world_build

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def world() -> DashboardWorld:
    return dashboard_world_build()


@pytest.fixture
def metrics_token(settings: Any) -> str:
    settings.PORTAL_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client: Client) -> dict[str, Any]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def samples(family: Any, name: str | None = None, **labels: str) -> list[Any]:
    return [
        s
        for s in family.samples
        if (name is None or s.name == name) and labels.items() <= s.labels.items()
    ]


def test_metrics_parse_and_report_endpoint_up(
    world: DashboardWorld, metrics_token: str, client: Client
) -> None:
    families = scrape(client)
    up = families["portal_endpoint_up"]
    labels = {"customer": "acme", "environment": "uat"}
    assert samples(up, endpoint="getprofile", **labels)[0].value == 1
    assert samples(up, endpoint="orders", **labels)[0].value == 0
    assert samples(up, endpoint="cards", **labels)[0].value == 0  # never probed
    by_state = {s.labels["state"]: s.value for s in families["portal_endpoints"].samples}
    assert by_state["healthy"] == 2 and by_state["down"] == 1 and by_state["unknown"] == 1


def counters(endpoint: Any, **fields: Any) -> ProbeCounter:
    return ProbeCounter.objects.create(endpoint=endpoint, **fields)


def test_latency_histogram_is_cumulative_over_every_probe_ever_counted(
    world: DashboardWorld, metrics_token: str, client: Client
) -> None:
    # 90 at <= 50 ms, 10 at <= 500 ms and 500 slow ones, whatever hour they fell in.
    counters(
        world.healthy,
        latency_count=600,
        latency_sum_ms=4000.0,
        bucket_3=90,
        bucket_6=10,
        bucket_10=500,
    )
    latency = scrape(client)["portal_probe_latency_seconds"]
    assert latency.type == "histogram"
    labels = {"customer": "acme", "environment": "uat", "endpoint": "getprofile"}
    buckets = {
        s.labels["le"]: s.value
        for s in samples(latency, "portal_probe_latency_seconds_bucket")
        if s.labels["endpoint"] == "getprofile"
    }
    assert buckets["0.025"] == 0 and buckets["0.05"] == 90 and buckets["0.5"] == 100
    assert buckets["10.0"] == 600 and buckets["+Inf"] == 600
    assert samples(latency, "portal_probe_latency_seconds_count", **labels)[0].value == 600
    assert samples(latency, "portal_probe_latency_seconds_sum", **labels)[0].value == 4.0


def test_probe_counts_are_counters_by_outcome_not_rollup_window_totals(
    world: DashboardWorld, metrics_token: str, client: Client
) -> None:
    counters(world.healthy, count=102, successes=100, fail_timeout=2)
    families = scrape(client)
    probes = families["portal_probes"]
    assert probe_type(probes) == ("counter", {"portal_probes_total"})
    assert samples(probes, endpoint="getprofile", outcome="ok")[0].value == 100
    assert samples(probes, endpoint="getprofile", outcome="timeout")[0].value == 2
    assert samples(probes, endpoint="getprofile", outcome="http_5xx")[0].value == 0
    # The globex endpoint has 10 probes in this hour's rollup but none counted.
    assert samples(probes, endpoint="balance", outcome="ok")[0].value == 0
    missed = families["portal_probe_slots_missed"]
    assert probe_type(missed) == ("counter", {"portal_probe_slots_missed_total"})


def probe_type(family: Any) -> tuple[str, set[str]]:
    return family.type, {s.name for s in family.samples}


def test_token_expiry_and_refresh_failures_per_credential(
    world: DashboardWorld, metrics_token: str, client: Client
) -> None:
    families = scrape(client)
    expiry = families["portal_token_expiry_seconds"]
    client_expiry = samples(expiry, kind="oauth_client", credential="acme-client")[0].value
    assert 3500 < client_expiry <= 3600
    assert 500 < samples(expiry, kind="test_user", credential="alice")[0].value <= 600
    failures = families["portal_token_refresh_failures"]
    assert samples(failures, kind="test_user", credential="bob")[0].value == 3
    assert samples(failures, customer="acme", environment="uat", credential="alice")[0].value == 0


def test_schedule_lag_is_a_counter_of_seconds_and_the_window_gauges_are_gone(
    world: DashboardWorld, metrics_token: str, client: Client
) -> None:
    counters(world.down, count=4, fail_auth=4, lag_sum_ms=480.0)
    families = scrape(client)
    lag = families["portal_probe_schedule_lag_seconds"]
    assert probe_type(lag) == ("counter", {"portal_probe_schedule_lag_seconds_total"})
    assert samples(lag, endpoint="orders")[0].value == 0.48
    for gone in (
        "portal_probe_schedule_lag_max_seconds",
        "portal_probe_schedule_lag_avg_seconds",
        "portal_probes_last_5m",
    ):
        assert gone not in families


def test_metrics_refuse_requests_without_credentials(
    world: DashboardWorld, metrics_token: str, client: Client
) -> None:
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_metrics_are_closed_when_nothing_is_configured(client: Client) -> None:
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_metrics_accept_an_allow_listed_network(
    world: DashboardWorld, settings: Any, client: Client
) -> None:
    settings.PORTAL_METRICS_ALLOW_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 401


def test_metrics_accept_a_read_scope_api_token(world: DashboardWorld, client: Client) -> None:
    _, raw = api_token_create(user=make_user("viewer"), name="grafana", scope=TokenScope.READ)
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    _, orphan = api_token_create(user=make_user(None), name="no role", scope=TokenScope.READ)
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {orphan}").status_code == 401


def test_every_scrape_reads_the_database_afresh(
    world: DashboardWorld, metrics_token: str, client: Client
) -> None:
    labels = {"customer": "acme", "environment": "uat", "endpoint": "orders"}
    assert samples(scrape(client)["portal_endpoint_up"], **labels)[0].value == 0
    EndpointHealth.objects.filter(pk=world.down.pk).update(state=HealthState.HEALTHY)
    assert samples(scrape(client)["portal_endpoint_up"], **labels)[0].value == 1


def test_label_values_are_escaped(metrics_token: str, client: Client) -> None:
    env = make_environment(slug="uat")
    client_row = OAuthClient.objects.create(environment=env, client_id='odd"client\\id')
    AccessToken.objects.create(oauth_client=client_row, expires_at=clock.now())
    expiry = scrape(client)["portal_token_expiry_seconds"]
    assert samples(expiry, credential='odd"client\\id')
