"""Seeding for bench_dashboards: configuration through the ORM, probe history in SQL.

Probe history is one deterministic series per endpoint (a probe every 10 minutes for a
week), written by INSERT ... SELECT over generate_series. Rollups are aggregated from
the whole series; raw results can be inserted for any range of slots, so the raw table
can hold the newest 50,000 rows or all five million while the rollups stay the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from integrations.choices import HealthState
from integrations.models import (
    AccessToken,
    ApiKey,
    Customer,
    CustomerAuth,
    Endpoint,
    EndpointHealth,
    Environment,
    OAuthClient,
    TestUser,
    UserSession,
)
from integrations.models.health import LATENCY_BUCKETS_MS

BATCH = 2000
# The week the series covers ends at the minute the benchmark started.
SERIES_END = timezone.now().replace(second=0, microsecond=0)
SERIES_START = SERIES_END - timedelta(days=7)
# Health states by endpoint number: mostly healthy, some of every other state.
STATES = [HealthState.HEALTHY] * 90 + (
    [HealthState.DEGRADED] * 4
    + [HealthState.DOWN] * 3
    + [HealthState.BLOCKED_BY_AUTH] * 2
    + [HealthState.UNKNOWN]
)


def configuration_seed(*, customers: int, endpoints: int) -> None:
    """Customers, two environments each, one of every credential per environment,
    cached tokens, endpoints spread over the environments, and their health rows."""
    now = timezone.now()
    made = Customer.objects.bulk_create(
        [Customer(name=f"Customer {n}", slug=f"customer-{n}") for n in range(1, customers + 1)],
        batch_size=BATCH,
    )
    envs = Environment.objects.bulk_create(
        [
            Environment(
                customer=c, name=name, slug=slug, kind=slug, base_url=f"https://{c.slug}.example"
            )
            for c in made
            for name, slug in (("UAT", "uat"), ("Production", "production"))
        ],
        batch_size=BATCH,
    )
    clients = OAuthClient.objects.bulk_create(
        [OAuthClient(environment=e, client_id=f"client-{e.pk}") for e in envs], batch_size=BATCH
    )
    auths = CustomerAuth.objects.bulk_create(
        [CustomerAuth(environment=e) for e in envs], batch_size=BATCH
    )
    users = TestUser.objects.bulk_create(
        [TestUser(customer_auth=a, label="probe", username="probe") for a in auths],
        batch_size=BATCH,
    )
    keys = ApiKey.objects.bulk_create([ApiKey(environment=e) for e in envs], batch_size=BATCH)
    _tokens_seed(clients, users, now)
    _endpoints_seed(envs, clients, auths, users, keys, endpoints, now)


def _tokens_seed(clients: list[OAuthClient], users: list[TestUser], now: datetime) -> None:
    def cached(n: int) -> dict[str, object]:
        return {
            "expires_at": now + timedelta(minutes=5 + n % 480),
            "fetched_at": now - timedelta(minutes=n % 60),
            "next_refresh_at": now + timedelta(minutes=n % 400),
            "last_outcome": "failed" if n % 100 == 0 else "ok",
            "consecutive_failures": 3 if n % 100 == 0 else 0,
        }

    AccessToken.objects.bulk_create(
        [AccessToken(oauth_client=c, **cached(n)) for n, c in enumerate(clients)],  # type: ignore[arg-type]
        batch_size=BATCH,
    )
    UserSession.objects.bulk_create(
        [UserSession(test_user=u, **cached(n + 7)) for n, u in enumerate(users)],  # type: ignore[arg-type]
        batch_size=BATCH,
    )


def _endpoints_seed(envs, clients, auths, users, keys, count, now) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for n in range(count):
        i = n % len(envs)
        rows.append(
            Endpoint(
                environment=envs[i],
                name=f"Endpoint {n // len(envs) + 1}",
                slug=f"endpoint-{n // len(envs) + 1}",
                headers_template={"content-type": "application/json"},
                body_template={},
                oauth_client=clients[i],
                customer_auth=auths[i],
                api_key=keys[i],
                default_test_user=users[i],
                assertions=[{"type": "json_exists", "path": "customer_id"}],
            )
        )
    made = Endpoint.objects.bulk_create(rows, batch_size=BATCH)
    EndpointHealth.objects.bulk_create(
        [_health(e, n, now) for n, e in enumerate(made)], batch_size=BATCH
    )


def _health(endpoint: Endpoint, n: int, now: datetime) -> EndpointHealth:
    state = STATES[n % len(STATES)]
    failing = state not in (HealthState.HEALTHY, HealthState.UNKNOWN)
    return EndpointHealth(
        endpoint=endpoint,
        state=state,
        state_since=now - timedelta(hours=1 + n % 20),
        next_probe_at=now + timedelta(seconds=n % 600),
        last_probe_at=None if state == HealthState.UNKNOWN else now - timedelta(seconds=n % 600),
        last_latency_ms=None if state == HealthState.UNKNOWN else 15.0 + n % 250,
        failing_step=("oauth_token" if state == HealthState.BLOCKED_BY_AUTH else "endpoint")
        if failing
        else "",
        last_error_code="invalid_client" if state == HealthState.BLOCKED_BY_AUTH else "",
    )


# One row per (endpoint, slot), slot by slot, so roughly in time order. r is a deterministic
# pseudo-random number in 0..999: 1 % timeouts (no latency), 1 % HTTP 503s, 0.5 % slow
# answers of 3 s, the rest 15-265 ms.
SERIES = """
    SELECT e.id AS endpoint_id,
           %(start)s::timestamptz + s * interval '10 minutes' + (e.id %% 600) * interval '1 second'
               AS started_at,
           (r %% 40 + 2)::float AS lag_ms,
           r >= 20 AS ok,
           CASE WHEN r < 10 THEN NULL
                WHEN r < 20 THEN 30.0 + r
                ELSE 15.0 + r %% 250 + CASE WHEN r >= 995 THEN 3000 ELSE 0 END END AS latency_ms,
           CASE WHEN r < 10 THEN 'timeout' WHEN r < 20 THEN 'http_5xx' ELSE '' END AS error_class
    FROM generate_series(%(first)s, %(last)s - 1) AS s
    CROSS JOIN integrations_endpoint AS e
    CROSS JOIN LATERAL
        (SELECT ((e.id::bigint * 2654435761 + s::bigint * 40503) %% 1000)::int AS r) AS h
"""


def _bucket_columns() -> str:
    lower = None
    parts = []
    for bound in LATENCY_BUCKETS_MS:
        above = f"latency_ms > {lower} AND " if lower is not None else ""
        parts.append(f"count(*) FILTER (WHERE {above}latency_ms <= {bound})")
        lower = bound
    parts.append(f"count(*) FILTER (WHERE latency_ms > {lower})")
    return ", ".join(parts)


def rollups_insert(*, slots: int) -> int:
    """Every hour's rollup of every endpoint, aggregated from the whole series."""
    buckets = ", ".join(f"bucket_{n}" for n in range(len(LATENCY_BUCKETS_MS)))
    sql = f"""
        INSERT INTO integrations_hourlyrollup (
            endpoint_id, hour, count, successes, fail_dns, fail_connect, fail_tls, fail_timeout,
            fail_auth, fail_http_4xx, fail_http_5xx, fail_assertion, fail_other, latency_count,
            latency_sum_ms, latency_min_ms, latency_max_ms, {buckets}, bucket_inf)
        SELECT endpoint_id, date_trunc('hour', started_at), count(*), count(*) FILTER (WHERE ok),
               0, 0, 0, count(*) FILTER (WHERE error_class = 'timeout'), 0, 0,
               count(*) FILTER (WHERE error_class = 'http_5xx'), 0, 0, count(latency_ms),
               coalesce(sum(latency_ms), 0), min(latency_ms), max(latency_ms), {_bucket_columns()}
        FROM ({SERIES}) AS series
        GROUP BY 1, 2
        ORDER BY 2, 1
    """
    return _execute(sql, {"start": SERIES_START, "first": 0, "last": slots})


def probe_results_insert(*, first: int, last: int, chunk: int = 100) -> int:
    """Raw results of slots first..last-1 of every endpoint, oldest first, in chunks of
    ``chunk`` slots (one transaction each, so deferred foreign-key checks stay small)."""
    return sum(
        _probe_results_chunk(first=start, last=min(start + chunk, last))
        for start in range(first, last, chunk)
    )


def _probe_results_chunk(*, first: int, last: int) -> int:
    sql = f"""
        INSERT INTO integrations_proberesult (
            endpoint_id, due_at, started_at, lag_ms, ok, status, latency_ms, error_class,
            error_code, message, failing_step, steps)
        SELECT endpoint_id, started_at - lag_ms * interval '1 millisecond', started_at, lag_ms,
               ok, CASE WHEN ok THEN 200 WHEN error_class = 'http_5xx' THEN 503 END, latency_ms,
               error_class,
               CASE error_class WHEN 'timeout' THEN 'deadline_exceeded'
                                WHEN 'http_5xx' THEN 'http_503' ELSE '' END,
               CASE WHEN ok THEN '' ELSE 'the customer API did not answer in time' END,
               CASE WHEN ok THEN '' ELSE 'endpoint' END,
               '[{{"name": "oauth_token", "outcome": "cached", "ms": 0.2}},
                 {{"name": "customer_auth", "outcome": "cached", "ms": 0.1}}]'::jsonb
        FROM ({SERIES}) AS series
    """
    return _execute(sql, {"start": SERIES_START, "first": first, "last": last})


def transitions_insert() -> int:
    """Each endpoint became healthy before the week began; the unhealthy ones changed since."""
    sql = """
        INSERT INTO integrations_healthtransition
            (endpoint_id, at, from_state, to_state, reason, failing_step)
        SELECT endpoint_id, %(start)s::timestamptz - interval '1 day', 'unknown', 'healthy',
               'probe succeeded', ''
        FROM integrations_endpointhealth WHERE state <> 'unknown'
        UNION ALL
        SELECT endpoint_id, state_since, 'healthy', state, 'seeded failure', failing_step
        FROM integrations_endpointhealth WHERE state NOT IN ('healthy', 'unknown')
    """
    return _execute(sql, {"start": SERIES_START})


def _execute(sql: str, params: dict[str, object]) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SET work_mem = '256MB'")  # the rollups' GROUP BY fits in memory
        cursor.execute(sql, params)
        count = cursor.rowcount
        cursor.execute("RESET work_mem")
    return count
