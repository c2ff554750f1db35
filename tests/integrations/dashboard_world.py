"""A seeded scenario for the dashboard tests: two customers, known states, rollups, tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from integrations import clock
from integrations.choices import HealthState, RefreshOutcome
from integrations.models import (
    AccessToken,
    Customer,
    CustomerAuth,
    Endpoint,
    EndpointHealth,
    Environment,
    HealthTransition,
    HourlyRollup,
    OAuthClient,
    ProbeResult,
    TestUser,
    UserSession,
)
from integrations.services.rollups import hour_of

# (The factories build a throwaway environment for every default they are not given,
# so the rows here are made directly: the overview lists every environment.)


def environment(customer: Customer, name: str, slug: str) -> Environment:
    return Environment.objects.create(
        customer=customer, name=name, slug=slug, base_url="https://api.example.com"
    )


def endpoint(env: Environment, name: str, slug: str, **fields: Any) -> Endpoint:
    return Endpoint.objects.create(environment=env, name=name, slug=slug, **fields)


@dataclass
class DashboardWorld:
    """acme/uat: one healthy, one down (at oauth_token), one never probed endpoint,
    latency p95 of 500 ms over 24 h, nearest token expiry in 10 minutes and one
    failing credential. globex/prod: one healthy endpoint and nothing else."""

    acme_uat: Environment
    globex_prod: Environment
    healthy: Endpoint
    down: Endpoint
    unprobed: Endpoint
    globex_ok: Endpoint
    now: datetime


def health(target: Endpoint, state: str, **fields: Any) -> EndpointHealth:
    fields.setdefault("last_probe_at", clock.now() - timedelta(seconds=30))
    return EndpointHealth.objects.create(
        endpoint=target, state=state, state_since=clock.now() - timedelta(hours=1), **fields
    )


def rollup(target: Endpoint, hour: datetime, **buckets: int) -> HourlyRollup:
    count = sum(buckets.values())
    return HourlyRollup.objects.create(
        endpoint=target,
        hour=hour,
        count=count,
        successes=count,
        latency_count=count,
        latency_sum_ms=40.0 * count,
        **buckets,
    )


def dashboard_world_build() -> DashboardWorld:
    now = clock.now()
    acme = Customer.objects.create(name="Acme Bank", slug="acme")
    globex = Customer.objects.create(name="Globex", slug="globex")
    acme_uat = environment(acme, "UAT", "uat")
    globex_prod = environment(globex, "Production", "prod")
    healthy = endpoint(acme_uat, "Get profile", "getprofile")
    down = endpoint(
        acme_uat, "Get orders", "orders", assertions=[{"type": "json_exists", "path": "orders"}]
    )
    unprobed = endpoint(acme_uat, "Get cards", "cards")
    globex_ok = endpoint(globex_prod, "Balance", "balance")
    health(healthy, HealthState.HEALTHY, last_latency_ms=42.0)
    health(
        down,
        HealthState.DOWN,
        failing_step="oauth_token",
        last_error_code="invalid_client",
        last_error_message="token endpoint said invalid_client",
    )
    health(globex_ok, HealthState.HEALTHY)
    # 24 h: 90 samples at <= 50 ms and 10 at <= 500 ms, so p95 is 500 ms. Older hours
    # (3 days ago) are slow and must not count.
    rollup(healthy, hour_of(now), bucket_3=50)
    rollup(healthy, hour_of(now) - timedelta(hours=5), bucket_3=40, bucket_6=10)
    rollup(healthy, hour_of(now) - timedelta(days=3), bucket_10=500)
    rollup(globex_ok, hour_of(now), bucket_1=10)
    _tokens(acme_uat, now)
    _history(down, now)
    return DashboardWorld(acme_uat, globex_prod, healthy, down, unprobed, globex_ok, now)


def _tokens(env: Environment, now: datetime) -> None:
    client = OAuthClient.objects.create(environment=env, client_id="acme-client")
    AccessToken.objects.create(
        oauth_client=client,
        token="secret-access-token",
        expires_at=now + timedelta(hours=1),
        fetched_at=now - timedelta(minutes=5),
        last_outcome=RefreshOutcome.OK,
    )
    auth = CustomerAuth.objects.create(environment=env)
    alice = TestUser.objects.create(customer_auth=auth, label="alice", username="alice")
    bob = TestUser.objects.create(customer_auth=auth, label="bob", username="bob")
    UserSession.objects.create(test_user=alice, token="jwt", expires_at=now + timedelta(minutes=10))
    UserSession.objects.create(
        test_user=bob,
        expires_at=None,
        last_outcome=RefreshOutcome.FAILED,
        last_error_code="invalid_credentials",
        consecutive_failures=3,
    )


def _history(down: Endpoint, now: datetime) -> None:
    """Up, then down at the OAuth step; one failed probe a minute ago, rolled up as it
    would have been when it was recorded."""
    HealthTransition.objects.create(
        endpoint=down,
        at=now - timedelta(hours=2),
        from_state=HealthState.UNKNOWN,
        to_state=HealthState.HEALTHY,
    )
    HealthTransition.objects.create(
        endpoint=down,
        at=now - timedelta(hours=1),
        from_state=HealthState.HEALTHY,
        to_state=HealthState.DOWN,
        reason="invalid_client at oauth_token",
        failing_step="oauth_token",
    )
    HourlyRollup.objects.create(
        endpoint=down, hour=hour_of(now - timedelta(minutes=1)), count=1, fail_auth=1
    )
    ProbeResult.objects.create(
        endpoint=down,
        due_at=now - timedelta(minutes=1),
        started_at=now - timedelta(minutes=1),
        lag_ms=120.0,
        ok=False,
        error_class="auth",
        error_code="invalid_client",
        message="token endpoint said invalid_client (client_secret=[redacted])",
        failing_step="oauth_token",
    )
