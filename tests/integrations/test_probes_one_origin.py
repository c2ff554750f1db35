"""Many endpoints on one origin, probed and test-called together, each reach their own URL.

Two customers, two environments each, four endpoints per environment with different
paths, queries, methods, bodies and headers. Both environments of a customer share
one recording server (so eight endpoints share one ``scheme://host:port``) and one
batch holds all sixteen. The assertions read what each server received, request by
request, and the server's echo is asserted by the endpoints too, so a request sent to
another endpoint's URL is also recorded as a failure.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User

from integrations import clock
from integrations.models import ApiKey, Customer, Endpoint, Environment, ProbeResult
from integrations.services.dispatch import health_rows_ensure
from integrations.services.probe_runs import probe_batch_run
from integrations.services.test_calls import test_call_run
from tests.integrations.outbound_servers import HostileServer, Received, respond, serving

pytestmark = pytest.mark.django_db


def echo(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    """Answers with what it was asked, so the caller's assertions can check it too."""
    seen = {"method": request.method, "target": request.target, "tag": request.header("X-Tag")}
    return respond(conn, 200, json.dumps(seen).encode(), Content_Type="application/json")


@dataclass(frozen=True)
class Expected:
    """One endpoint's request as the server must receive it."""

    tag: str
    method: str
    target: str
    body: bytes
    api_key: str


# (slug, method, path template, body template, follows redirects)
SHAPES = [
    ("profile", "POST", "/account/getprofile", {"who": "{who}"}, False),
    ("orders", "GET", "/orders/{order_id}?expand=lines&page=2", None, False),
    ("cards", "PUT", "/cards/7?dry_run=1", {"limit": 100}, True),
    ("session", "DELETE", "/sessions/current", None, False),
]


def _environment(customer: Customer, server: HostileServer, slug: str) -> Environment:
    environment = Environment.objects.create(
        customer=customer, name=slug.upper(), slug=slug, base_url=server.url(f"/{slug}")
    )
    ApiKey.objects.create(environment=environment, value=f"key-{customer.slug}-{slug}")
    return environment


def _endpoints(environment: Environment) -> Iterator[tuple[Endpoint, Expected]]:
    key = ApiKey.objects.get(environment=environment)
    owner = f"{environment.customer.slug}-{environment.slug}"
    for slug, method, path, body, follows in SHAPES:
        tag = f"{owner}-{slug}"
        target = f"/{environment.slug}" + path.replace("{order_id}", f"{owner}-42")
        endpoint = Endpoint.objects.create(
            environment=environment,
            name=slug.title(),
            slug=slug,
            method=method,
            path=path,
            body_template=body,
            headers_template={"X-Tag": tag},
            sample_variables={"order_id": f"{owner}-42", "who": owner},
            api_key=key,
            follow_redirects=follows,
            assertions=[{"type": "json_equals", "path": "target", "value": target}],
        )
        sent = json.dumps({"who": owner} if body == {"who": "{who}"} else body) if body else ""
        yield endpoint, Expected(tag, method, target, sent.encode(), key.value.reveal())


@pytest.fixture
def world(settings: Any) -> Iterator[tuple[list[HostileServer], dict[int, Expected]]]:
    """Two customers, each with a UAT and a production environment on one server."""
    with serving(echo) as acme_server, serving(echo) as globex_server:
        servers = [acme_server, globex_server]
        settings.OUTBOUND_ALLOWLIST = [server.hostport for server in servers]
        expected: dict[int, Expected] = {}
        for name, server in zip(("acme", "globex"), servers, strict=True):
            customer = Customer.objects.create(name=name.title(), slug=name)
            for env_slug in ("uat", "prod"):
                environment = _environment(customer, server, env_slug)
                expected |= {e.pk: want for e, want in _endpoints(environment)}
        yield servers, expected


def assert_each_request_reached_its_own_url(
    servers: list[HostileServer], expected: dict[int, Expected]
) -> None:
    received = [request for server in servers for request in server.requests]
    assert len(received) == len(expected)
    by_tag = {request.header("X-Tag"): request for request in received}
    assert sorted(by_tag) == sorted(want.tag for want in expected.values())
    for want in expected.values():
        request = by_tag[want.tag]
        got = (request.method, request.target, request.body, request.header("api-key"))
        assert got == (want.method, want.target, want.body, want.api_key), want.tag


@pytest.mark.parametrize("client", ["aiohttp", "threads"])
def test_one_batch_probes_every_endpoint_of_an_origin_at_its_own_url(
    world: tuple[list[HostileServer], dict[int, Expected]], settings: Any, client: str
) -> None:
    settings.PROBE_CLIENT = client
    servers, expected = world
    now = clock.now()
    health_rows_ensure()

    assert probe_batch_run(slots=[(pk, now) for pk in expected]) == len(expected)

    assert_each_request_reached_its_own_url(servers, expected)
    results = ProbeResult.objects.filter(endpoint_id__in=expected)
    failed = [(r.endpoint_id, r.error_code, r.message) for r in results if not r.ok]
    assert failed == [] and results.count() == len(expected)


def test_test_calls_of_every_endpoint_of_an_origin_reach_their_own_url(
    world: tuple[list[HostileServer], dict[int, Expected]], admin_user: User
) -> None:
    servers, expected = world
    for endpoint in Endpoint.objects.filter(pk__in=expected):
        call = test_call_run(endpoint=endpoint, test_user=None, actor=admin_user)
        want = expected[endpoint.pk]
        assert call.ok, (want.tag, call.error_code, call.error_message)
        assert call.request["url"].endswith(want.target) and call.request["method"] == want.method
        assert json.loads(call.response["body"])["tag"] == want.tag
    assert_each_request_reached_its_own_url(servers, expected)
