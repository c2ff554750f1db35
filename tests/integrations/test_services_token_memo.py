"""The per-process token memo never outlives the token it holds.

A local customer over a real socket issues a new access token and a new login at
every request (bearer-1, bearer-2, ...; session-1, ...) and records the business
calls, so the tests assert on the credentials the customer actually received after
"refresh now", a deletion, or a refresh in another process.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from integrations import clock
from integrations.models import AccessToken, Endpoint, UserSession
from integrations.services import tokens
from integrations.services.calls import endpoint_call
from integrations.services.probes import endpoints_probe
from integrations.services.refresh_now import (
    access_token_refresh_now,
    user_session_refresh_now,
)
from integrations.services.tokens import access_token_get
from tests.factories import (
    make_customer_auth,
    make_endpoint,
    make_environment,
    make_oauth_client,
    make_test_user,
)
from tests.integrations.outbound_servers import HostileServer, Received, respond, serving

pytestmark = pytest.mark.django_db

TIMEOUT_S = 120.0  # a ceiling for waits on other processes, far above what they need
_paths = itertools.count()


@dataclass
class Issuer:
    """Counts what the local customer issued; every token request gets a new token."""

    counts: dict[str, int] = field(default_factory=lambda: {"bearer": 0, "session": 0})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, kind: str) -> str:
        with self.lock:
            self.counts[kind] += 1
            return f"{kind}-{self.counts[kind]}"


def customer_handler(issuer: Issuer) -> Any:
    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        if request.target.startswith("/oauth/access_token"):
            payload: dict[str, Any] = {
                "access_token": issuer.issue("bearer"),
                "token_type": "Bearer",
                "expires_in": 3600,
            }
        elif request.target.startswith("/login"):
            payload = {"JWT": issuer.issue("session"), "expires_in": "3600"}
        else:
            payload = {"ok": True}
        return respond(conn, 200, json.dumps(payload).encode(), Content_Type="application/json")

    return handler


@dataclass
class World:
    server: HostileServer
    issuer: Issuer
    endpoint: Endpoint

    def business(self) -> list[Received]:
        return [r for r in self.server.requests if r.target.startswith("/business")]

    def credentials_received(self) -> list[tuple[str | None, str | None]]:
        return [(r.header("authorization"), r.header("customer-auth")) for r in self.business()]


def build_endpoints(environment: Any, count: int) -> list[Endpoint]:
    """``count`` endpoints of one environment, each pair sharing an OAuth client and user."""
    auth = make_customer_auth(environment=environment, authenticate_url="/login")
    endpoints = []
    for n in range(count):
        if n % 2 == 0:
            client = make_oauth_client(environment=environment)
            user = make_test_user(customer_auth=auth, label=f"user-{n}")
        endpoints.append(
            make_endpoint(
                environment=environment,
                path=f"/business/{next(_paths)}",
                oauth_client=client,
                customer_auth=auth,
                default_test_user=user,
            )
        )
    return endpoints


@pytest.fixture
def world(settings: Any) -> Iterator[World]:
    issuer = Issuer()
    with serving(customer_handler(issuer)) as server:
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        environment = make_environment(base_url=server.url(""))
        (endpoint,) = build_endpoints(environment, 1)
        yield World(server, issuer, endpoint)


def as_if_in_another_process(action: Callable[[], Any]) -> None:
    """Run ``action``, then give this process back the memo it held before: as if the
    action had run in another worker, which shares the database but not the memory."""
    held = dict(tokens._memo)
    action()
    tokens._memo.clear()
    tokens._memo.update(held)


def test_refresh_now_in_another_process_reaches_this_processs_next_call(world: World) -> None:
    endpoint = world.endpoint
    endpoint_call(endpoint=endpoint)

    def refresh_both() -> None:
        access_token_refresh_now(oauth_client=endpoint.oauth_client, actor=None)
        user_session_refresh_now(test_user=endpoint.default_test_user, actor=None)

    as_if_in_another_process(refresh_both)
    result = endpoint_call(endpoint=endpoint)
    assert result.ok, result.error_message
    assert world.credentials_received() == [
        ("Bearer bearer-1", "JWT session-1"),
        ("Bearer bearer-2", "JWT session-2"),
    ]
    assert world.issuer.counts == {"bearer": 2, "session": 2}  # read, not fetched again


def test_a_deleted_token_row_is_not_served_from_memory(world: World) -> None:
    endpoint = world.endpoint
    endpoint_call(endpoint=endpoint)
    AccessToken.objects.filter(pk=endpoint.oauth_client.pk).delete()  # as the admin's delete
    endpoint_call(endpoint=endpoint)
    assert [bearer for bearer, _ in world.credentials_received()] == [
        "Bearer bearer-1",
        "Bearer bearer-2",
    ]


def test_a_memo_hit_costs_one_read_of_the_generation_by_primary_key(world: World) -> None:
    client = world.endpoint.oauth_client
    first = access_token_get(oauth_client=client)
    with CaptureQueriesContext(connection) as queries:
        again = access_token_get(oauth_client=client)
    assert again.value == first.value and again.step.outcome == "cache_hit"
    (query,) = [q["sql"] for q in queries.captured_queries]
    table = AccessToken._meta.db_table
    assert table in query and '"generation"' in query and '"token"' not in query


def test_a_probe_batch_checks_every_memoised_token_in_one_query(world: World) -> None:
    endpoints = [world.endpoint, *build_endpoints(world.endpoint.environment, 6)]
    now = clock.now()
    endpoints_probe(slots=[(e, now) for e in endpoints])  # fetches and memoises 4 + 4 tokens
    fetched = dict(world.issuer.counts)
    with CaptureQueriesContext(connection) as queries:
        outcomes = endpoints_probe(slots=[(e, now) for e in endpoints])
    assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok]
    token_tables = (AccessToken._meta.db_table, UserSession._meta.db_table)
    reads = [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in token_tables)]
    assert len(reads) == 1, reads
    assert world.issuer.counts == fetched == {"bearer": 4, "session": 4}
    first, second = world.business()[: len(endpoints)], world.business()[len(endpoints) :]
    sent = {r.target: r.header("authorization") for r in first}
    assert len(sent) == len(endpoints)  # every endpoint called, each with its client's token
    assert {r.target: r.header("authorization") for r in second} == sent


def test_a_refresh_elsewhere_reaches_every_endpoint_of_the_next_batch_sharing_the_client(
    world: World,
) -> None:
    endpoints = [world.endpoint, *build_endpoints(world.endpoint.environment, 2)]
    for endpoint in endpoints[1:]:
        endpoint.oauth_client = world.endpoint.oauth_client
        endpoint.save()
    now = clock.now()
    endpoints_probe(slots=[(e, now) for e in endpoints])
    as_if_in_another_process(
        lambda: access_token_refresh_now(oauth_client=world.endpoint.oauth_client, actor=None)
    )
    with CaptureQueriesContext(connection) as queries:
        endpoints_probe(slots=[(e, now) for e in endpoints])
    received = [r.header("authorization") for r in world.business()[len(endpoints) :]]
    assert received == ["Bearer bearer-2"] * len(endpoints)
    # The batch's one read, then one read of the new token for the first endpoint only:
    # the others find it in memory, known current.
    table = AccessToken._meta.db_table
    assert len([q for q in queries.captured_queries if table in q["sql"]]) == 2


# --- two processes ------------------------------------------------------------------


def _child_main(endpoint_pk: int, ready: Any, go: Any, results: Any) -> None:
    """Call once (memoising both tokens), wait for the parent's refresh, call again."""
    try:
        endpoint = Endpoint.objects.select_related(
            "environment", "oauth_client", "customer_auth", "default_test_user"
        ).get(pk=endpoint_pk)
        first = endpoint_call(endpoint=endpoint)
        ready.set()
        if not go.wait(TIMEOUT_S):
            raise TimeoutError("the parent never refreshed")
        second = endpoint_call(endpoint=endpoint)
        results.put(("ok", [[s.outcome for s in r.steps] for r in (first, second)]))
    except BaseException as error:
        results.put(("error", repr(error)))
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_refresh_now_reaches_a_token_memoised_in_another_process(
    world: World, request: pytest.FixtureRequest
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("two processes need a shared server database (PostgreSQL)")
    endpoint = world.endpoint
    ctx = multiprocessing.get_context("fork")
    ready, go, results = ctx.Event(), ctx.Event(), ctx.Queue()
    connections.close_all()
    child = ctx.Process(target=_child_main, args=(endpoint.pk, ready, go, results))
    child.start()

    def stop_child() -> None:
        go.set()
        child.join(timeout=TIMEOUT_S)
        if child.is_alive():
            child.kill()
            child.join(timeout=TIMEOUT_S)

    request.addfinalizer(stop_child)
    assert ready.wait(TIMEOUT_S), "the child never made its first call"
    access_token_refresh_now(oauth_client=endpoint.oauth_client, actor=None)
    user_session_refresh_now(test_user=endpoint.default_test_user, actor=None)
    go.set()
    kind, outcome = results.get(timeout=TIMEOUT_S)

    assert kind == "ok", outcome
    assert world.credentials_received() == [
        ("Bearer bearer-1", "JWT session-1"),  # the child's first call, then its memo
        ("Bearer bearer-2", "JWT session-2"),  # what the parent's refresh put in the database
    ]
    assert outcome == [["fetched", "fetched"], ["cache_hit", "cache_hit"]]
    assert world.issuer.counts == {"bearer": 2, "session": 2}
