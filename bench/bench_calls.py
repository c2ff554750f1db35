"""Benchmark of the call path against the sandbox (prints figures; not a timed test).

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
     .venv/bin/python -m bench.bench_calls

Prints cached-token lookup p50/p99, the overhead of a full endpoint call over a bare
requests.post with the same headers to the same URL (same run, same sandbox), and the
number of token requests that reach the sandbox when 200 callers ask at once for an
expired token, and how long 200 callers of a failing credential with a valid token wait
(the token endpoint answering 500 after 0.5 s; the token past its refresh point).
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from integrations import clock  # noqa: E402
from integrations.models import AccessToken, Endpoint, OAuthClient  # noqa: E402
from integrations.services.calls import endpoint_call  # noqa: E402
from integrations.services.demo import demo_customer_ensure  # noqa: E402
from integrations.services.tokens import access_token_get, memo_clear  # noqa: E402
from sandbox.server import start_sandbox  # noqa: E402


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def bench_cached_lookup(client: OAuthClient) -> None:
    access_token_get(oauth_client=client)
    samples = timed(lambda: access_token_get(oauth_client=client), 2000)
    print(
        f"cached-token lookup (process memo): p50 {percentile(samples, 0.5):.3f} ms, "
        f"p99 {percentile(samples, 0.99):.3f} ms (n={len(samples)})"
    )

    def from_database() -> None:
        memo_clear()  # as after the memo's 30 s age: read the row and decrypt
        access_token_get(oauth_client=client)

    samples = timed(from_database, 1000)
    print(
        f"cached-token lookup (database row): p50 {percentile(samples, 0.5):.3f} ms, "
        f"p99 {percentile(samples, 0.99):.3f} ms (n={len(samples)})"
    )


def bench_overhead(endpoint: Endpoint) -> None:
    warm = endpoint_call(endpoint=endpoint)
    assert warm.ok, warm.error_message
    request = warm.request
    assert request is not None
    bare_session = requests.Session()

    def bare() -> None:
        bare_session.post(request.url, headers=request.headers, data=request.body, timeout=10)

    runs = 500
    bare_ms, edge_ms = [], []
    for _ in range(runs):  # interleaved so both see the same machine load
        bare_ms += timed(bare, 1)
        edge_ms += timed(lambda: endpoint_call(endpoint=endpoint), 1)
    b50, e50 = statistics.median(bare_ms), statistics.median(edge_ms)
    print(f"bare requests.post: p50 {b50:.3f} ms, p99 {percentile(bare_ms, 0.99):.3f} ms")
    print(
        f"full endpoint call (cached tokens): p50 {e50:.3f} ms, "
        f"p99 {percentile(edge_ms, 0.99):.3f} ms"
    )
    print(f"edge overhead at p50: {e50 - b50:.3f} ms, ratio {e50 / b50:.2f}x (n={runs} each)")


def bench_single_flight(client: OAuthClient, sandbox: object, callers: int = 200) -> None:
    AccessToken.objects.filter(pk=client.pk).update(expires_at=clock.now() - timedelta(seconds=1))
    memo_clear()
    before = sandbox.stats()["token_requests"]  # type: ignore[attr-defined]
    barrier = threading.Barrier(callers)
    values: list[str] = []

    def call() -> None:
        barrier.wait()
        values.append(access_token_get(oauth_client=client).value)
        connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fetched = sandbox.stats()["token_requests"] - before  # type: ignore[attr-defined]
    print(
        f"single flight: {callers} concurrent callers with an expired token -> "
        f"{fetched} token request(s), {len(set(values))} distinct token(s) served"
    )


def bench_failing_credential(client: OAuthClient, sandbox: object, callers: int = 200) -> None:
    AccessToken.objects.filter(pk=client.pk).update(
        issued_at=clock.now() - timedelta(hours=7), expires_at=clock.now() + timedelta(seconds=50)
    )  # past its refresh point, still valid
    memo_clear()
    str(client)  # its label reads the customer: once here, not in every caller thread
    connections.close_all()
    sandbox.set_faults(reject=["client"], token_endpoint_lenient="500", latency_ms=500)  # type: ignore[attr-defined]
    before = sandbox.stats()["token_requests"]  # type: ignore[attr-defined]
    for label in ("meeting the failing refresh", "failure known"):
        waits, outcomes = _burst(client, callers)
        print(
            f"failing credential, {label}: {callers} callers wait max {max(waits):.1f} ms, "
            f"p50 {percentile(waits, 0.5):.1f} ms, p99 {percentile(waits, 0.99):.1f} ms, "
            f"outcomes {sorted(set(outcomes))}"
        )
    fetched = sandbox.stats()["token_requests"] - before  # type: ignore[attr-defined]
    print(f"failing credential: {fetched} token request(s) for {2 * callers} callers")
    sandbox.set_faults(reject=[], token_endpoint_lenient=None, latency_ms=0)  # type: ignore[attr-defined]


def _burst(client: OAuthClient, callers: int) -> tuple[list[float], list[str]]:
    barrier = threading.Barrier(callers)
    waits: list[float] = []
    outcomes: list[str] = []

    def call() -> None:
        barrier.wait()
        started = time.perf_counter()
        outcomes.append(access_token_get(oauth_client=client).step.outcome)
        waits.append((time.perf_counter() - started) * 1000)
        connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return waits, outcomes


def main() -> None:
    setup_test_environment()
    sandbox = start_sandbox(host="127.0.0.1", port=0)
    settings.OUTBOUND_ALLOWLIST = [f"127.0.0.1:{sandbox.port}"]
    # Its own throw-away database, never the test suite's.
    connection.settings_dict["TEST"]["NAME"] = f"bench_calls_{connection.settings_dict['NAME']}"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        print(f"database: {connection.vendor}")
        customer = demo_customer_ensure(sandbox_url=sandbox.url)
        endpoint = Endpoint.objects.select_related(
            "environment", "oauth_client", "customer_auth", "api_key", "default_test_user"
        ).get(environment__customer=customer, slug="getprofile")
        assert endpoint.oauth_client is not None
        bench_cached_lookup(endpoint.oauth_client)
        bench_overhead(endpoint)
        bench_single_flight(endpoint.oauth_client, sandbox)
        bench_failing_credential(endpoint.oauth_client, sandbox)
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        sandbox.stop()


if __name__ == "__main__":
    main()
