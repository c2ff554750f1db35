"""Real Celery worker and beat on Redis and PostgreSQL while the database keeps dropping
the worker's connections: every slot still gets exactly one result, no claim is left
waiting for its lease."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db.models import Count, Max

from integrations import clock
from integrations.models import Endpoint, EndpointHealth, ProbeResult
from integrations.services.dispatch import health_rows_ensure
from tests.factories import make_endpoint, make_environment
from tests.helpers import wait_until
from tests.integrations import celery_processes as procs
from tests.integrations.db_drops import WORKER_APP_NAME, Dropper
from tests.integrations.outbound_servers import HostileServer, Received, ok_json, serving

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENDPOINTS = 6
INTERVAL_S = 5  # the shortest probe interval an endpoint may have
# Rounds of dropping every connection the worker holds, about one a second.
DROP_ROUNDS = 8
# Of those, drops while a batch's call is in flight: its recording then meets a dead
# connection and must retry on a fresh one.
IN_FLIGHT = 3
# Far beyond the test's waits: a slot whose claim is left to the lease is never redone here.
LEASE_S = 600


@pytest.fixture
def dropper(broker: redis.Redis) -> Iterator[Dropper]:
    with Dropper(app_name=WORKER_APP_NAME, every_s=1.0) as running:
        yield running


@pytest.fixture
def upstream(dropper: Dropper) -> Iterator[HostileServer]:
    """Answers 200; while dropping, each call also drops the worker's connections, so the
    drop lands while the batch is in flight."""

    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        dropper.drop(in_flight=True)
        return ok_json(conn, request, server)

    with serving(handler) as server:
        yield server


def endpoints_staggered(server: HostileServer) -> list[Endpoint]:
    """Endpoints first due a fraction of the interval apart: one small batch per tick."""
    environment = make_environment(base_url=server.url())
    endpoints = [
        make_endpoint(
            environment=environment,
            path=f"/probe/{n}",
            probe_interval_s=INTERVAL_S,
            retry_interval_s=INTERVAL_S,
        )
        for n in range(ENDPOINTS)
    ]
    health_rows_ensure()
    start = clock.now()
    for n, endpoint in enumerate(endpoints):
        step = timedelta(seconds=INTERVAL_S * n / ENDPOINTS)
        EndpointHealth.objects.filter(pk=endpoint.pk).update(next_probe_at=start + step)
    return endpoints


def worker_env(server: HostileServer) -> dict[str, str]:
    env = procs.child_env(
        PORTAL_OUTBOUND_ALLOWLIST=server.hostport,
        PORTAL_PROBE_CLAIM_LEASE_S=str(LEASE_S),
        PORTAL_PROBE_DB_RETRY_DELAY_S="0.2",
    )
    env["DATABASE_URL"] += f"?application_name={WORKER_APP_NAME}"
    return env


def probed_since(moment: Any) -> bool:
    """Every endpoint has a result for a slot due at or after ``moment``."""
    latest = dict(
        ProbeResult.objects.values("endpoint")
        .annotate(last=Max("due_at"))
        .values_list("endpoint", "last")
    )
    return len(latest) == ENDPOINTS and all(last >= moment for last in latest.values())


def test_a_worker_whose_connections_keep_dropping_leaves_no_slot_without_a_result(
    upstream: HostileServer, dropper: Dropper, fleet: procs.Fleet, tmp_path: Path
) -> None:
    endpoints_staggered(upstream)
    env = worker_env(upstream)
    log = tmp_path / "worker.log"
    with procs.running(
        fleet.worker(env, log, "w1"), fleet.beat(env, tmp_path / "beat.log", tmp_path)
    ):
        wait_until(lambda: probed_since(clock.now() - timedelta(days=1)), what="first probes")
        with dropper.dropping():
            wait_until(
                lambda: dropper.rounds >= DROP_ROUNDS and dropper.in_flight_rounds >= IN_FLIGHT,
                what="the worker's drops, some while a batch was in flight",
            )
        end = clock.now()
        # Every slot claimed while the connections dropped has been recorded, or given
        # back and redone: the schedule of each endpoint went on past the drops.
        wait_until(
            lambda: probed_since(end), what="every endpoint probed after the drops", timeout_s=60
        )
    slots = ProbeResult.objects.values("endpoint", "due_at").annotate(n=Count("id"))
    assert slots and all(row["n"] == 1 for row in slots)
    assert not ProbeResult.objects.filter(ok=False).exists()
    assert "retrying on a fresh connection" in log.read_text()
