"""No herd on a failing customer: a credential's failed token step or login is shared.

A loopback customer counts every request it gets, per step: its token endpoint or its
login answers 500 (at once or after a delay) or hangs until the client's deadline.
One hundred endpoints share one OAuth client (and one test user), probed in one batch
as the dispatcher would, in this process, in threads, or in two processes at once.
Before this change a batch whose endpoints refused the cached token while the token
endpoint failed sent one token request per endpoint (100, for 200 s with a 2 s token
endpoint), and every other caller of a failed credential went to its row.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations import clock
from integrations.choices import HealthState
from integrations.models import (
    AccessToken,
    CustomerAuth,
    Endpoint,
    EndpointHealth,
    Environment,
    OAuthClient,
    ProbeResult,
    TestUser,
    UserSession,
)
from integrations.services.dispatch import health_rows_ensure
from integrations.services.probe_runs import probe_batch_run
from integrations.services.tokens import (
    AuthStepFailed,
    access_token_get,
    failure_cooldown_s,
    failure_next_attempt_at,
    memo_clear,
)
from tests.factories import make_customer
from tests.helpers import WAIT_CEILING_S, moving_clock, process_stop, threads_together
from tests.integrations.api_world import client_as
from tests.integrations.celery_processes import ROOT, child_env
from tests.integrations.outbound_servers import HostileServer, Received, respond, serving, silence

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN_PATH = "/oauth/access_token"
LOGIN_PATH = "/auth/customer_authenticate"
ENDPOINTS = 100
DEADLINE_S = 3.0  # the environment's deadline: a hanging token endpoint costs this once
SLOW_S = 1.5  # how long a slow token endpoint takes to answer 500
# A batch's own work besides a hanging attempt: preparing, recording 100 results.
BATCH_WORK_S = 1.0
CLIENT_SECRET = "herd-client-secret-3b7e"
PASSWORD = "herd-password-9d21"
JSON = {"Content_Type": "application/json"}


class LoopbackCustomer:
    """Counts requests per step; the token and login steps each answer as ``modes`` say:
    ok, 500, slow_500 (after SLOW_S), hang (silent until the client gives up); the
    endpoints answer 200, or 401 while ``modes["endpoint"]`` is "401"."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # the server answers on one thread per connection
        self.counts = {"token": 0, "login": 0, "endpoint": 0}
        self.modes = {"token": "ok", "login": "ok", "endpoint": "ok"}
        self.issued = 0

    def handle(self, conn: socket.socket, request: Received, server: HostileServer) -> bool:
        step = {TOKEN_PATH: "token", LOGIN_PATH: "login"}.get(
            request.target.split("?", 1)[0], "endpoint"
        )
        with self.lock:
            self.counts[step] += 1
            self.issued += 1
            mode, serial = self.modes[step], self.issued
        if mode == "slow_500":
            time.sleep(SLOW_S)  # the customer's slowness, not a wait of the test
        if mode in ("500", "slow_500"):
            return respond(conn, 500, b'{"error": "server_error"}', **JSON)
        if mode == "hang":
            return silence(conn, request, server)
        if mode == "401":
            return respond(conn, 401, b'{"error": "invalid_token"}', **JSON)
        return respond(conn, 200, json.dumps(self._body(step, serial)).encode(), **JSON)

    @staticmethod
    def _body(step: str, serial: int) -> dict[str, Any]:
        if step == "token":
            return {"token_type": "Bearer", "access_token": f"tok-{serial}", "expires_in": 28799}
        if step == "login":
            return {"JWT": f"jwt-{serial}", "expires_in": 28799}
        return {"ok": True}

    def requests(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)


@dataclass
class World:
    customer: LoopbackCustomer
    server: HostileServer
    environment: Environment


@pytest.fixture
def world(settings: Any) -> Iterator[World]:
    if connection.vendor != "postgresql":
        pytest.skip("threads and processes share the token rows: needs PostgreSQL")
    customer = LoopbackCustomer()
    with serving(customer.handle) as server:
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        # Within the loopback server's accept backlog (64), so that no connect is dropped;
        # a thread's event loop kept from an earlier test may have a higher cap: a dropped
        # connect is then sent again by the kernel after 1 s, within the connect timeout.
        settings.PROBE_ASYNC_CONCURRENCY = settings.PROBE_THREADS = 32
        environment = Environment.objects.create(
            customer=make_customer(),
            name="UAT",
            slug="uat",
            base_url=server.url(),
            connect_timeout_ms=2500,
            deadline_ms=int(DEADLINE_S * 1000),
        )
        yield World(customer, server, environment)


def shared_credential_endpoints(
    environment: Environment, count: int = ENDPOINTS, *, login: bool = False, first: int = 0
) -> list[Endpoint]:
    """``count`` endpoints that share one OAuth client (and one test user with ``login``)."""
    client = OAuthClient.objects.get_or_create(
        environment=environment, defaults={"client_id": "herd", "client_secret": CLIENT_SECRET}
    )[0]
    user = None
    if login:
        auth = CustomerAuth.objects.get_or_create(environment=environment)[0]
        user = TestUser.objects.get_or_create(
            customer_auth=auth, defaults={"label": "herd", "username": "u", "password": PASSWORD}
        )[0]
    endpoints = [
        Endpoint(
            environment=environment,
            name=f"Probe {n}",
            slug=f"probe-{n}",
            path=f"/probe/{n}",
            oauth_client=client,
            customer_auth=user.customer_auth if user else None,
            default_test_user=user,
            identifier_location="header" if login else "none",
        )
        for n in range(first, first + count)
    ]
    created = Endpoint.objects.bulk_create(endpoints)
    health_rows_ensure()
    return created


@dataclass
class Batch:
    took_s: float
    results: list[ProbeResult]
    token_row_queries: int

    def steps(self) -> set[tuple[str, str]]:
        return {(r.error_class, r.failing_step) for r in self.results}

    def told_from_the_cool_down(self) -> list[str]:
        return [r.message for r in self.results if "next attempt at" in r.message]


def probe_batch(endpoints: list[Endpoint]) -> Batch:
    """Probe the endpoints in one batch, as a worker does with a dispatched one."""
    due = clock.now()
    with CaptureQueriesContext(connection) as queries:
        started = time.monotonic()
        probe_batch_run(slots=[(endpoint.pk, due) for endpoint in endpoints])
        took = time.monotonic() - started
    tables = (AccessToken._meta.db_table, UserSession._meta.db_table)
    on_rows = [q for q in queries.captured_queries if any(t in q["sql"] for t in tables)]
    results = list(ProbeResult.objects.filter(due_at=due, endpoint__in=endpoints))
    return Batch(took, results, len(on_rows))


def a_token_first(world: World, endpoints: list[Endpoint]) -> None:
    """A healthy batch caches the client's token; then the endpoints refuse it."""
    assert all(r.ok for r in probe_batch(endpoints).results)
    assert world.customer.requests()["token"] == 1
    world.customer.modes["endpoint"] = "401"


# --- one batch ------------------------------------------------------------------------

FAILURES = {
    "token-500": ("token", "500", "oauth_token"),
    "token-slow-500": ("token", "slow_500", "oauth_token"),
    "token-hangs": ("token", "hang", "oauth_token"),
    "login-500": ("login", "500", "customer_auth"),
    "login-hangs": ("login", "hang", "customer_auth"),
}


@pytest.mark.parametrize("probe_client", ["aiohttp", "threads"])
@pytest.mark.parametrize("failure", list(FAILURES), ids=list(FAILURES))
def test_a_batch_whose_auth_step_fails_sends_it_once_and_calls_no_endpoint(
    world: World, settings: Any, probe_client: str, failure: str
) -> None:
    step, mode, failing_step = FAILURES[failure]
    settings.PROBE_CLIENT = probe_client
    endpoints = shared_credential_endpoints(world.environment, login=step == "login")
    world.customer.modes[step] = mode

    batch = probe_batch(endpoints)

    assert world.customer.requests()[step] == 1
    assert world.customer.requests()["endpoint"] == 0
    assert len(batch.results) == ENDPOINTS
    assert batch.steps() == {("auth", failing_step)}
    # The one that was sent says what the customer answered; the rest when it failed.
    told = batch.told_from_the_cool_down()
    assert len(told) == ENDPOINTS - 1
    assert all("the credential failed 0 s ago; next attempt at" in m for m in told), told[0]
    assert batch.token_row_queries < 20  # answered from memory, not from the row each
    # Within one deadline; a hanging step costs that deadline once, and then the batch.
    limit = DEADLINE_S + BATCH_WORK_S if mode == "hang" else DEADLINE_S
    assert batch.took_s < limit, batch.took_s


@pytest.mark.parametrize("probe_client", ["aiohttp", "threads"])
def test_a_batch_whose_endpoints_refuse_the_token_while_the_token_endpoint_fails_asks_once(
    world: World, settings: Any, probe_client: str
) -> None:
    settings.PROBE_CLIENT = probe_client
    endpoints = shared_credential_endpoints(world.environment)
    a_token_first(world, endpoints)
    world.customer.modes["token"] = "slow_500"

    batch = probe_batch(endpoints)

    assert world.customer.requests() == {"token": 2, "login": 0, "endpoint": 2 * ENDPOINTS}
    assert batch.steps() == {("auth", "oauth_token")}
    assert len(batch.told_from_the_cool_down()) == ENDPOINTS - 1
    assert batch.took_s < DEADLINE_S, batch.took_s


def test_a_batch_within_the_cool_down_sends_nothing_and_one_after_it_sends_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = moving_clock(monkeypatch)
    endpoints = shared_credential_endpoints(world.environment, 10)
    world.customer.modes["token"] = "500"
    probe_batch(endpoints)
    assert world.customer.requests()["token"] == 1
    row = AccessToken.objects.get()
    next_attempt = failure_next_attempt_at(row=row)
    assert next_attempt is not None and row.last_error_at is not None

    ahead(1)
    within = probe_batch(endpoints)
    memo_clear()  # a process that never saw the failure reads it from the row
    elsewhere = probe_batch(endpoints)
    assert world.customer.requests()["token"] == 1
    for batch in (within, elsewhere):
        assert len(batch.told_from_the_cool_down()) == 10
        assert "the credential failed 1 s ago; next attempt at" in batch.results[0].message

    ahead((next_attempt - clock.now()).total_seconds() + 0.1)
    after = probe_batch(endpoints)
    assert world.customer.requests() == {"token": 2, "login": 0, "endpoint": 0}
    assert len(after.told_from_the_cool_down()) == 9
    row.refresh_from_db()
    assert row.consecutive_failures == 2
    health = EndpointHealth.objects.filter(endpoint__in=endpoints)
    assert set(health.values_list("state", "failing_step")) == {
        (HealthState.BLOCKED_BY_AUTH, "oauth_token")
    }
    assert (failure_next_attempt_at(row=row) - row.last_error_at).total_seconds() > 7


# --- threads and processes ------------------------------------------------------------


@pytest.mark.parametrize("refused", [False, True], ids=["no-token", "token-refused"])
def test_threads_of_one_process_share_one_failed_fetch(world: World, refused: bool) -> None:
    callers = 50
    client = shared_credential_endpoints(world.environment, 1)[0].oauth_client
    assert client is not None
    str(client)  # its label reads the customer: once here, not in every caller thread
    rejected = access_token_get(oauth_client=client).value if refused else None
    world.customer.modes["token"] = "slow_500"
    before = world.customer.requests()["token"]
    row_reads: list[int] = []

    def counted() -> list[int]:
        reads = [0]

        def wrapper(execute: Any, sql: str, *args: Any) -> Any:
            reads[0] += AccessToken._meta.db_table in sql
            return execute(sql, *args)

        connection.execute_wrappers.append(wrapper)  # this thread's connection only
        return reads

    def ask(reads: list[int]) -> str:
        try:
            access_token_get(oauth_client=client, rejected=rejected)
        except AuthStepFailed as error:
            return error.step.error_message
        finally:
            connection.execute_wrappers.clear()
            row_reads.append(reads[0])
        return "served"

    told = threads_together(callers, ask, prepare=counted, what="a token caller")

    assert world.customer.requests()["token"] - before == 1
    assert len([m for m in told if m.startswith("the credential failed")]) == callers - 1
    assert sum(row_reads) < callers  # the waiters read the failure from memory


CHILD_BATCH = """
import json, sys, time
import django
django.setup()
from integrations import clock
from integrations.models import ProbeResult
from integrations.services.probe_runs import probe_batch_run

ids = json.loads(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # the test says go to both processes at once
due = clock.now()
started = time.monotonic()
probe_batch_run(slots=[(pk, due) for pk in ids])
took = time.monotonic() - started
rows = ProbeResult.objects.filter(endpoint_id__in=ids, due_at=due)
steps = sorted({f"{r.error_class}/{r.failing_step}" for r in rows})
told = sum("next attempt at" in r.message for r in rows)
print(json.dumps({"took": took, "results": len(rows), "steps": steps, "told": told}), flush=True)
"""


def child(script: str, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        env=child_env(**env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("refused", [False, True], ids=["no-token", "token-refused"])
def test_two_processes_probing_at_once_send_one_token_request_in_all(
    world: World, refused: bool
) -> None:
    batches = [
        shared_credential_endpoints(world.environment, first=n * ENDPOINTS) for n in range(2)
    ]
    if refused:
        a_token_first(world, batches[0] + batches[1])
    world.customer.modes["token"] = "slow_500"  # both are in flight while it is slow
    before = world.customer.requests()
    env = {"PORTAL_OUTBOUND_ALLOWLIST": world.server.hostport, "PORTAL_PROBE_CLIENT": "aiohttp"}
    env["PORTAL_PROBE_ASYNC_CONCURRENCY"] = "32"
    processes = [child(CHILD_BATCH, json.dumps([e.pk for e in batch]), **env) for batch in batches]
    try:
        for process in processes:
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = [json.loads(p.communicate(timeout=WAIT_CEILING_S)[0]) for p in processes]
    finally:
        for process in processes:
            process_stop(process)

    after = world.customer.requests()
    assert after["token"] - before["token"] == 1
    assert after["endpoint"] - before["endpoint"] == (2 * ENDPOINTS if refused else 0)
    for report in reports:
        assert report["results"] == ENDPOINTS and report["steps"] == ["auth/oauth_token"]
        assert report["took"] < DEADLINE_S, report  # the other waited for the one attempt
    assert sum(report["told"] for report in reports) == 2 * ENDPOINTS - 1


# --- backoff --------------------------------------------------------------------------

CHILD_COOLDOWNS = """
import json, sys
import django
django.setup()
from integrations.services.tokens import failure_cooldown_s

label, pk = sys.argv[1], int(sys.argv[2])
print(json.dumps([
    failure_cooldown_s(model_label=label, pk=pk, consecutive_failures=n) for n in range(1, 11)
]))
"""


def cooldowns(label: str, pk: int) -> list[float]:
    return [
        failure_cooldown_s(model_label=label, pk=pk, consecutive_failures=n) for n in range(1, 11)
    ]


def test_the_cool_down_doubles_with_jitter_and_every_process_computes_the_same(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = moving_clock(monkeypatch)
    client = shared_credential_endpoints(world.environment, 1)[0].oauth_client
    assert client is not None
    world.customer.modes["token"] = "500"
    seen = []
    for _ in range(7):  # consecutive failing ticks, each after the cool-down before it
        with pytest.raises(AuthStepFailed):
            access_token_get(oauth_client=client)
        row = AccessToken.objects.get()
        next_attempt = failure_next_attempt_at(row=row)
        assert next_attempt is not None and row.last_error_at is not None
        seen.append((next_attempt - row.last_error_at).total_seconds())
        ahead(seen[-1] + 0.1)
    assert world.customer.requests()["token"] == 7

    label = AccessToken._meta.label
    assert seen == pytest.approx(cooldowns(label, client.pk)[:7])
    plain = [min(5 * 2**n, 300) for n in range(10)]
    jittered = cooldowns(label, client.pk)
    assert all(0.8 * p <= j <= 1.2 * p for p, j in zip(plain, jittered, strict=True))
    assert jittered != plain and jittered[:7] == sorted(jittered[:7])
    # Credentials that keep failing together are tried again at different moments.
    assert len({cooldowns(label, pk)[-1] for pk in range(1, 6)}) == 5

    process = child(CHILD_COOLDOWNS, label, str(client.pk))
    try:
        output, _ = process.communicate(timeout=WAIT_CEILING_S)
    finally:
        process_stop(process)
    assert json.loads(output) == jittered


# --- what people see ------------------------------------------------------------------


def next_attempt_shown(at: datetime) -> str:
    return f"next attempt at {timezone.localtime(at):%Y-%m-%d %H:%M:%S %Z}"


def test_the_credentials_tables_show_failures_and_the_next_attempt(
    world: World, admin_client: Client
) -> None:
    endpoints = shared_credential_endpoints(world.environment, 3, login=True)
    world.customer.modes["login"] = "500"
    probe_batch(endpoints)
    healthy = OAuthClient.objects.create(
        environment=world.environment, name="other", client_id="other-client"
    )
    session = UserSession.objects.get()
    at = failure_next_attempt_at(row=session)
    assert at is not None

    users = admin_client.get(reverse("admin:integrations_testuser_changelist")).content.decode()
    assert "consecutive failures" in users.lower() and "next attempt" in users.lower()
    assert next_attempt_shown(at) in users
    assert session.last_error_code in users and PASSWORD not in users

    clients = admin_client.get(reverse("admin:integrations_oauthclient_changelist"))
    rows = clients.content.decode().split("<tr")
    shown = next(r for r in rows if "other-client" in r)
    assert "next attempt at" not in shown and "—" in shown  # a credential that never failed
    assert CLIENT_SECRET not in clients.content.decode()

    engineer = client_as("engineer")
    body = engineer.get(f"/api/v1/test-users/{session.pk}/").json()
    assert body["session"]["next_attempt_at"] is not None
    assert datetime.fromisoformat(body["session"]["next_attempt_at"]) == at
    assert body["session"]["consecutive_failures"] == 1
    other = engineer.get(f"/api/v1/oauth-clients/{healthy.pk}/").json()
    assert other["token"] is None or other["token"]["next_attempt_at"] is None
