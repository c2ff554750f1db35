"""Probe throughput benchmark on PostgreSQL and Redis (prints figures; not a timed test).

Seeds 10,000 endpoints (100 customers x 100 endpoints, each a full auth-aware call:
bearer token, customer JWT, API key) with a 6 s interval (100,000 probes/min due)
against bench/upstream.py answering after 50 ms, runs real Celery beat and worker
processes, and prints probes completed per minute with results persisted, schedule
lag p50/p99 and worker RSS. In the same run it measures a bare aiohttp client against
the same upstream without persistence, and the ratio.

The endpoints of an environment share one origin but each has its own path, query and
method, and tells the upstream where it is meant to go (X-Bench-Expect); the upstream
answers 421 to a request that arrived anywhere else, and the run reports how many
probes were misdirected (it must be 0).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench.bench_probes

The default run demands exactly 100,000 probes/min, so it shows whether that rate is
kept and with what lag; BENCH_ENDPOINTS=20000 demands more than a 2-core machine can
do and so measures the capacity (and the ratio to the bare client at capacity).
Options (environment): BENCH_ENDPOINTS, BENCH_INTERVAL_S, BENCH_SECONDS,
BENCH_WORKER_CONCURRENCY, BENCH_BATCH_SIZE.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parents[1]
BENCH_DB = "portal_bench_probes"
REDIS_URL = "redis://127.0.0.1:6379/14"
UPSTREAM_PORT = 8099
ENDPOINTS = int(os.environ.get("BENCH_ENDPOINTS", "10000"))
PER_ENVIRONMENT = 100
INTERVAL_S = int(os.environ.get("BENCH_INTERVAL_S", "6"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "90"))
WARMUP_S = 25
CONCURRENCY = os.environ.get("BENCH_WORKER_CONCURRENCY", "3")
BATCH_SIZE = os.environ.get("BENCH_BATCH_SIZE", "200")
METHODS = ("POST", "GET", "PUT", "DELETE")


ADMIN_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def admin_url() -> str:
    if not ADMIN_URL.startswith("postgres"):
        sys.exit("bench_probes needs DATABASE_URL pointing at PostgreSQL")
    return ADMIN_URL


def bench_url() -> str:
    parts = urlparse(admin_url())
    return parts._replace(path=f"/{BENCH_DB}").geturl()


def recreate_database() -> None:
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def drop_database() -> None:
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": bench_url(),
        "CELERY_BROKER_URL": REDIS_URL,
        "PORTAL_OUTBOUND_ALLOWLIST": f"127.0.0.1:{UPSTREAM_PORT}",
        "PORTAL_PROBE_DISPATCH_EVERY_S": "1",
        "PORTAL_PROBE_BATCH_SIZE": BATCH_SIZE,
        "PORTAL_TOKEN_REFRESH_EVERY_S": "30",
        "PORTAL_ALERT_DELIVER_EVERY_S": "30",
        "LOG_LEVEL": "WARNING",
    }


def setup_django() -> None:
    os.environ.update({k: v for k, v in child_env().items() if k != "PYTHONPATH"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed() -> None:
    from datetime import timedelta

    from integrations import clock
    from integrations.models import (
        ApiKey,
        Customer,
        CustomerAuth,
        Endpoint,
        EndpointHealth,
        Environment,
        OAuthClient,
        TestUser,
    )

    base = f"http://127.0.0.1:{UPSTREAM_PORT}"
    now = clock.now()
    envs = max(1, ENDPOINTS // PER_ENVIRONMENT)
    endpoints: list[Endpoint] = []
    for n in range(envs):
        customer = Customer.objects.create(name=f"Bench {n}", slug=f"bench-{n}")
        env = Environment.objects.create(customer=customer, name="UAT", slug="uat", base_url=base)
        client = OAuthClient.objects.create(
            environment=env, client_id="bench", client_secret="bench-secret"
        )
        auth = CustomerAuth.objects.create(environment=env)
        user = TestUser.objects.create(customer_auth=auth, label="u", username="u", password="p")
        key = ApiKey.objects.create(environment=env, value="bench-key")
        endpoints += [
            Endpoint(
                environment=env,
                name=f"E{i}",
                slug=f"e{i}",
                method=METHODS[i % len(METHODS)],
                path=endpoint_path(i),
                headers_template={
                    "X-Bench-Expect": f"{METHODS[i % len(METHODS)]} {endpoint_path(i)}"
                },
                oauth_client=client,
                customer_auth=auth,
                api_key=key,
                default_test_user=user,
                body_template={},
                probe_interval_s=INTERVAL_S,
                retry_interval_s=INTERVAL_S,
            )
            for i in range(PER_ENVIRONMENT)
        ]
    Endpoint.objects.bulk_create(endpoints, batch_size=2000)
    spread = [
        EndpointHealth(
            endpoint=e, next_probe_at=now + timedelta(seconds=INTERVAL_S * i / len(endpoints))
        )
        for i, e in enumerate(endpoints)
    ]
    EndpointHealth.objects.bulk_create(spread, batch_size=2000)


def endpoint_path(i: int) -> str:
    """Every endpoint of an environment on the same origin, each at its own URL."""
    return f"/account/e{i}/profile?n={i}"


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=child_env(),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def rss_mb(process: subprocess.Popen[bytes]) -> tuple[float, int]:
    """Resident memory of the process and all its descendants, read from /proc (Linux)."""
    family, queue = [], [process.pid]
    while queue:
        pid = queue.pop()
        family.append(pid)
        queue += _children(pid)
    total_kib = 0
    for pid in family:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024, len(family)


def window_figures(since: float, until: float) -> tuple[int, float, float, int, int]:
    """Probes in the window: count, lag p50 and p99, misdirected (421) and other failures."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY lag_ms), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY lag_ms), "
            "count(*) FILTER (WHERE status = 421), count(*) FILTER (WHERE NOT ok) "
            "FROM integrations_proberesult WHERE started_at >= to_timestamp(%s) "
            "AND started_at < to_timestamp(%s)",
            [since, until],
        )
        count, p50, p99, misdirected, failed = cursor.fetchone()
    return int(count), float(p50 or 0), float(p99 or 0), int(misdirected), int(failed)


async def bare_aiohttp(seconds: float, concurrency: int = 256) -> int:
    import aiohttp

    url = f"http://127.0.0.1:{UPSTREAM_PORT}/account/getprofile"
    headers = {
        "Authorization": "Bearer t",
        "customer-auth": "JWT j",
        "api-key": "k",
        "content-type": "application/json",
    }
    done = 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                async with s.post(url, headers=headers, data=b"{}") as response:
                    await response.read()
                done += 1

        await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done


def main() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    recreate_database()
    setup_django()
    tmp = Path(tempfile.mkdtemp(prefix="bench-probes-"))
    upstream = start(
        [sys.executable, "-m", "bench.upstream", "--port", str(UPSTREAM_PORT)], tmp / "upstream.log"
    )
    try:
        seed()
        print(
            f"seeded {ENDPOINTS} endpoints, interval {INTERVAL_S} s "
            f"({ENDPOINTS * 60 // INTERVAL_S} probes/min due); logs in {tmp}"
        )
        celery = str(Path(sys.executable).with_name("celery"))
        worker = start(
            [
                celery,
                "-A",
                "portal",
                "worker",
                "--pool=prefork",
                f"--concurrency={CONCURRENCY}",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
            ],
            tmp / "worker.log",
        )
        beat = start(
            [
                celery,
                "-A",
                "portal",
                "beat",
                "--loglevel=WARNING",
                f"--schedule={tmp / 'beat-schedule'}",
            ],
            tmp / "beat.log",
        )
        try:
            time.sleep(WARMUP_S)
            since = time.time()
            time.sleep(SECONDS - WARMUP_S)
            until = time.time()
            memory, processes = rss_mb(worker)
        finally:
            stop(beat)
            stop(worker)
        count, lag50, lag99, misdirected, failed = window_figures(since, until)
        per_min = count * 60 / (until - since)
        print(
            f"worker: prefork --concurrency={CONCURRENCY}, aiohttp sender, batches of {BATCH_SIZE}"
        )
        print(
            f"probes completed with results persisted: {per_min:,.0f}/min "
            f"({count} in {until - since:.0f} s after {WARMUP_S} s warm-up)"
        )
        print(f"schedule lag: p50 {lag50 / 1000:.2f} s, p99 {lag99 / 1000:.2f} s")
        print(f"worker RSS: {memory:.0f} MiB over {processes} processes")
        print(
            f"misdirected probes (the upstream saw another path or method): {misdirected} "
            f"(must be 0); failed probes in all: {failed}"
        )
        bare_seconds = 15
        bare = asyncio.run(bare_aiohttp(bare_seconds)) * 60 / bare_seconds
        print(f"bare aiohttp client, same upstream, no persistence: {bare:,.0f}/min")
        print(f"ratio portal/bare: {per_min / bare:.2f}")
    finally:
        stop(upstream)
        from django.db import connections

        connections.close_all()
        drop_database()


if __name__ == "__main__":
    main()
