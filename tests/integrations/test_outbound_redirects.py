"""Redirects are followed by hand: every hop re-checked, credentials kept at home."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from integrations.outbound import (
    Allowlist,
    OutboundPolicy,
    OutboundRequest,
    TooManyRedirects,
    crosses_trust_boundary,
    redirected_method,
    send,
    static_resolver,
)
from integrations.outbound.policy import Destination
from integrations.outbound.redirects import next_hop_headers
from tests.integrations.outbound_servers import (
    HostileServer,
    ok_json,
    redirect_loop,
    redirect_to_query,
)

CREDENTIALS = {
    "Authorization": "Bearer canary-access-token",
    "customer-auth": "JWT canary-customer-jwt",
    "api-key": "canary-api-key",
    "Cookie": "session=canary-cookie",
    "Proxy-Authorization": "Basic Y2FuYXJ5OnByb3h5",
    "X-Tenant-Secret": "canary-configured-secret",
}
CREDENTIAL_NAMES = {name.lower() for name in CREDENTIALS}


@pytest.fixture
def origin():
    server = HostileServer(redirect_to_query)
    yield server
    server.close()


@pytest.fixture
def elsewhere():
    """The other host: a separate loopback address, as another company's server would be."""
    server = HostileServer(ok_json, host="127.0.0.2")
    yield server
    server.close()


def policy_for(origin: HostileServer, elsewhere: HostileServer) -> OutboundPolicy:
    names = {"api.customer.example": ["127.0.0.1"], "cdn.other.example": ["127.0.0.2"]}
    return OutboundPolicy(
        allowlist=Allowlist.from_entries([origin.hostport, elsewhere.hostport]),
        resolver=static_resolver(names),
        deadline_s=3.0,
    )


def start_url(origin: HostileServer, target: str, status: int = 302) -> str:
    path = f"/start?status={status}&to={quote(target, safe='')}"
    return origin.url(path, host="api.customer.example")


def call(url: str, policy: OutboundPolicy, **fields):
    request = OutboundRequest(
        fields.pop("method", "GET"),
        url,
        headers={**CREDENTIALS, "X-Trace": "trace-1"},
        follow_redirects=True,
        sensitive_headers=frozenset({"X-Tenant-Secret"}),
        **fields,
    )
    return send(request, policy=policy)


def test_redirect_to_another_host_delivers_no_credential_headers(origin, elsewhere):
    target = elsewhere.url("/landing", host="cdn.other.example")
    exchange = call(start_url(origin, target), policy_for(origin, elsewhere))
    arrived = elsewhere.requests[-1]
    assert arrived.header_names() & CREDENTIAL_NAMES == set()
    assert arrived.header("X-Trace") == "trace-1"
    assert arrived.header("Host") == f"cdn.other.example:{elsewhere.port}"
    assert {name.lower() for name in exchange.redirects[0].dropped_headers} == CREDENTIAL_NAMES
    assert exchange.peer_ip == "127.0.0.2"


def test_the_first_hop_received_every_credential(origin, elsewhere):
    call(start_url(origin, elsewhere.url("/landing")), policy_for(origin, elsewhere))
    assert origin.requests[0].header_names() >= CREDENTIAL_NAMES


def test_same_host_redirect_keeps_credentials(origin, elsewhere):
    exchange = call(start_url(origin, "/landing"), policy_for(origin, elsewhere))
    arrived = origin.requests[-1]
    assert arrived.target == "/landing"
    assert arrived.header_names() >= CREDENTIAL_NAMES
    assert exchange.redirects[0].dropped_headers == ()
    assert exchange.request.url.endswith("/landing")


def test_same_host_name_on_another_port_is_another_party(origin):
    neighbour = HostileServer(ok_json)  # same IP and name as the origin, another port
    try:
        policy = OutboundPolicy(
            allowlist=Allowlist.from_entries([origin.hostport, neighbour.hostport]),
            resolver=static_resolver({"api.customer.example": ["127.0.0.1"]}),
        )
        target = neighbour.url("/landing", host="api.customer.example")
        call(start_url(origin, target), policy)
        assert neighbour.requests[-1].header_names() & CREDENTIAL_NAMES == set()
    finally:
        neighbour.close()


def test_303_turns_a_post_into_a_bodyless_get(origin, elsewhere):
    target = elsewhere.url("/landing", host="cdn.other.example")
    call(
        start_url(origin, target, 303), policy_for(origin, elsewhere), method="POST", json={"a": 1}
    )
    arrived = elsewhere.requests[-1]
    assert (arrived.method, arrived.body) == ("GET", b"")
    assert arrived.header("Content-Type") is None


def test_307_repeats_the_post_with_its_body(origin, elsewhere):
    call(
        start_url(origin, "/landing", 307),
        policy_for(origin, elsewhere),
        method="POST",
        json={"a": 1},
    )
    arrived = origin.requests[-1]
    assert (arrived.method, arrived.body) == ("POST", b'{"a":1}')


def test_redirects_are_not_followed_unless_asked(origin, elsewhere):
    request = OutboundRequest("GET", start_url(origin, elsewhere.url("/landing")))
    exchange = send(request, policy=policy_for(origin, elsewhere))
    assert exchange.status == 302
    assert exchange.header("Location") == elsewhere.url("/landing")
    assert elsewhere.accepted == 0


def test_redirect_loop_stops_at_the_hop_limit():
    server = HostileServer(redirect_loop)
    try:
        policy = OutboundPolicy(allowlist=Allowlist.from_entries([server.hostport]))
        request = OutboundRequest(
            "GET", server.url("/loop"), follow_redirects=True, max_redirects=3
        )
        with pytest.raises(TooManyRedirects) as caught:
            send(request, policy=policy)
    finally:
        server.close()
    assert caught.value.limit == 3
    assert len(server.requests) == 4
    assert caught.value.exchange is not None and len(caught.value.exchange.redirects) == 4


def destination(scheme: str, host: str, port: int) -> Destination:
    return Destination(scheme, host, port, "93.184.216.34", ("93.184.216.34",), "/")


@pytest.mark.parametrize(
    ("previous", "following", "crosses"),
    [
        (("https", "api.customer.example", 443), ("https", "api.customer.example", 443), False),
        (("http", "api.customer.example", 80), ("https", "api.customer.example", 80), False),
        (("https", "api.customer.example", 443), ("http", "api.customer.example", 443), True),
        (("https", "api.customer.example", 443), ("https", "api.customer.example", 8443), True),
        (("https", "api.customer.example", 443), ("https", "login.customer.example", 443), True),
    ],
)
def test_credentials_cross_only_to_the_same_host_port_without_downgrade(
    previous, following, crosses
):
    assert crosses_trust_boundary(destination(*previous), destination(*following)) is crosses


def test_https_to_http_downgrade_drops_credentials_and_configured_headers():
    headers, dropped = next_hop_headers(
        {**CREDENTIALS, "X-Trace": "t"},
        previous=destination("https", "api.customer.example", 443),
        following=destination("http", "api.customer.example", 443),
        keep_body=True,
        sensitive={"x-tenant-secret"},
    )
    assert headers == {"X-Trace": "t"}
    assert {name.lower() for name in dropped} == CREDENTIAL_NAMES


@pytest.mark.parametrize(
    ("status", "method", "expected"),
    [
        (301, "POST", ("GET", False)),
        (302, "POST", ("GET", False)),
        (303, "PUT", ("GET", False)),
        (303, "HEAD", ("HEAD", True)),
        (301, "GET", ("GET", True)),
        (302, "PUT", ("PUT", True)),
        (307, "POST", ("POST", True)),
        (308, "PATCH", ("PATCH", True)),
    ],
)
def test_redirect_method_follows_browser_rules(status, method, expected):
    assert redirected_method(status, method) == expected
