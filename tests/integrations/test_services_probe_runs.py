"""A probe batch whose database connection drops: retried on a fresh one, never lost.

The connection is dropped for real: a side connection terminates the batch's backend
(what a PostgreSQL restart or failover does) before loading, while the probes are in
flight (the upstream does it when it is called) or inside the recording transaction
(Django's execute wrapper, just before the results' INSERT). A database that cannot
take the results for longer than the retries makes the batch give its claims back.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.db.models import Count

from integrations.models import Endpoint, EndpointHealth, ProbeResult
from integrations.services.dispatch import Slot, health_rows_ensure, probes_claim
from integrations.services.probe_runs import probe_batch_run
from tests.factories import make_endpoint, make_environment
from tests.integrations.db_drops import backends_terminate, django_backend_pid, side_connection
from tests.integrations.outbound_servers import HostileServer, Received, ok_json, serving

pytestmark = pytest.mark.django_db(transaction=True)

ENDPOINTS = 5


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("drops and refuses PostgreSQL connections (pg_terminate_backend, locks)")


@pytest.fixture
def side() -> Iterator[psycopg.Connection[Any]]:
    with side_connection() as conn:
        yield conn
    connection.close()  # a test that failed may leave it dropped; the teardown needs one


class Upstream:
    """Answers every probe with 200; while ``victim`` is set, first terminates that backend."""

    def __init__(self, side: psycopg.Connection[Any]) -> None:
        self.side = side
        self.victim: int | None = None
        self.terminated: list[int] = []
        # The server answers the batch's probes on several threads at once: one terminates.
        self._lock = threading.Lock()

    def handle(self, conn: socket.socket, request: Received, server: HostileServer) -> bool:
        with self._lock:
            victim, self.victim = self.victim, None
            if victim is not None:
                self.terminated += backends_terminate(self.side, pids=[victim])
        return ok_json(conn, request, server)


@pytest.fixture
def upstream(side: psycopg.Connection[Any], settings: Any) -> Iterator[Upstream]:
    answers = Upstream(side)
    with serving(answers.handle) as server:
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        settings.PROBE_DB_RETRY_DELAY_S = 0.01
        environment = make_environment(base_url=server.url())
        for n in range(ENDPOINTS):
            make_endpoint(environment=environment, path=f"/probe/{n}")
        yield answers


def claimed_batch() -> list[tuple[int, Any]]:
    health_rows_ensure()
    slots: list[Slot] = probes_claim()
    assert len(slots) == ENDPOINTS
    return [(s.endpoint_id, s.due_at) for s in slots]


def drop_before_loading(upstream: Upstream, side: psycopg.Connection[Any]) -> Any:
    upstream.terminated += backends_terminate(side, pids=[django_backend_pid()])
    return nullcontext()


def drop_while_probing(upstream: Upstream, side: psycopg.Connection[Any]) -> Any:
    upstream.victim = django_backend_pid()
    return nullcontext()


def drop_inside_recording(upstream: Upstream, side: psycopg.Connection[Any]) -> Any:
    @contextmanager
    def wrapped() -> Iterator[None]:
        def before_insert(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
            inserting = sql.startswith(f'INSERT INTO "{ProbeResult._meta.db_table}"')
            if inserting and not upstream.terminated:
                upstream.terminated += backends_terminate(side, pids=[django_backend_pid()])
            return execute(sql, *args)

        with connection.execute_wrapper(before_insert):
            yield

    return wrapped()


@pytest.mark.parametrize(
    "drop",
    [drop_before_loading, drop_while_probing, drop_inside_recording],
    ids=["before-loading", "while-probing", "inside-recording"],
)
def test_a_batch_whose_connection_drops_records_every_outcome_exactly_once(
    upstream: Upstream,
    side: psycopg.Connection[Any],
    drop: Callable[[Upstream, psycopg.Connection[Any]], AbstractContextManager[None]],
) -> None:
    slots = claimed_batch()
    first_pid = django_backend_pid()

    with drop(upstream, side):
        assert probe_batch_run(slots=slots) == ENDPOINTS

    assert upstream.terminated == [first_pid]  # the batch's own connection was dropped
    assert django_backend_pid() != first_pid
    stored = ProbeResult.objects.values("endpoint_id", "due_at").annotate(n=Count("id"))
    assert sorted((r["endpoint_id"], r["due_at"], r["n"]) for r in stored) == sorted(
        (endpoint_id, due_at, 1) for endpoint_id, due_at in slots
    )
    assert not ProbeResult.objects.filter(ok=False).exists()
    assert not EndpointHealth.objects.filter(claimed_until__isnull=False).exists()


def test_a_connection_dropped_while_preparing_gives_the_batch_back_without_false_failures(
    demo_endpoint: Endpoint, side: psycopg.Connection[Any]
) -> None:
    health_rows_ensure()
    slots = [(s.endpoint_id, s.due_at) for s in probes_claim()]
    dropped: list[int] = []

    def in_customer_auth_step(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        # The user session is read after the token step: the middle of preparing the calls.
        if sql.startswith('SELECT "integrations_usersession"') and not dropped:
            dropped.extend(backends_terminate(side, pids=[django_backend_pid()]))
        return execute(sql, *args)

    with connection.execute_wrapper(in_customer_auth_step):
        assert probe_batch_run(slots=slots) == 0

    assert dropped
    assert not ProbeResult.objects.exists()  # the portal's outage is not the customer's failure
    health = EndpointHealth.objects.get(pk=demo_endpoint.pk)
    assert (health.next_probe_at, health.claimed_until) == (slots[0][1], None)
    assert probe_batch_run(slots=[(s.endpoint_id, s.due_at) for s in probes_claim()]) == 1
    assert ProbeResult.objects.get().ok


@contextmanager
def results_refused(side: psycopg.Connection[Any]) -> Iterator[None]:
    """The results table locked against writes by another session (reads go on), and
    every new session of this database giving up on a lock after 100 ms: recording fails
    however often it is tried, while the health rows can still be written."""
    database = connection.ops.quote_name(connection.settings_dict["NAME"])
    with side.cursor() as cursor:
        cursor.execute(f"ALTER DATABASE {database} SET lock_timeout = '100ms'")
    connection.close()  # the next connection starts with the timeout
    try:
        with side.transaction(), side.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{ProbeResult._meta.db_table}" IN EXCLUSIVE MODE')
            yield
    finally:
        with side.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {database} RESET lock_timeout")
        connection.close()


def test_a_batch_that_cannot_be_recorded_releases_its_claims_at_once(
    upstream: Upstream, side: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture
) -> None:
    slots = claimed_batch()

    with results_refused(side):
        assert probe_batch_run(slots=slots) == 0
        released = list(EndpointHealth.objects.values_list("pk", "next_probe_at", "claimed_until"))

    assert sorted(released) == sorted((pk, due_at, None) for pk, due_at in slots)
    assert not ProbeResult.objects.exists()
    # The next dispatch tick claims the same slots again, long before the lease ends.
    assert sorted((s.endpoint_id, s.due_at) for s in probes_claim()) == sorted(slots)
    assert "releasing its claims" in caplog.text
    assert "recording a probe batch failed (attempt 2 of 3" in caplog.text
