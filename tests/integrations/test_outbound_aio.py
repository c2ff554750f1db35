"""The asyncio client of the outbound edge: same address policy, deadline and size cap."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import pytest

from integrations.outbound import (
    Allowlist,
    BlockedDestination,
    Exchange,
    InvalidRequest,
    MalformedResponse,
    OutboundPolicy,
    OutboundRequest,
    TooManyRedirects,
    UpstreamHttpError,
    UpstreamTimeout,
    UpstreamTooLarge,
    send,
    static_resolver,
)
from integrations.outbound.aio import AsyncBatchClient
from tests.integrations.outbound_servers import (
    body_of,
    conflicting_lengths,
    full_accept_queue,
    negative_length,
    non_http_banner,
    ok_json,
    rate_limited,
    redirect_loop,
    redirect_to,
    redirect_to_query,
    serving,
)


def run(client: AsyncBatchClient, requests: list[OutboundRequest]) -> list[Any]:
    async def go() -> list[Any]:
        try:
            return await client.send_many(requests)
        finally:
            await client.close()

    return asyncio.run(go())


def policy_for(sandbox: Any, **extra: Any) -> OutboundPolicy:
    return OutboundPolicy(allowlist=Allowlist.from_entries([f"127.0.0.1:{sandbox.port}"]), **extra)


def token_request(sandbox: Any, **fields: Any) -> OutboundRequest:
    return OutboundRequest(
        method="POST",
        url=f"{sandbox.url}/oauth/access_token?grant_type=client_credentials",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=b"client_id=demo-client&client_secret=demo-client-secret",
        **fields,
    )


def test_it_sends_many_requests_concurrently_and_returns_each_exchange(sandbox: Any) -> None:
    sandbox.set_faults(latency_ms=300)
    started = time.monotonic()
    answers = run(AsyncBatchClient(policy=policy_for(sandbox)), [token_request(sandbox)] * 20)
    elapsed = time.monotonic() - started
    assert all(isinstance(a, Exchange) and a.status == 200 for a in answers)
    assert elapsed < 3  # 20 x 300 ms one after another would take 6 s
    assert answers[0].json()["token_type"] == "Bearer"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "http://[::1]:8001/",
        "http://0x7f.1:8001/",
        "file:///etc/passwd",
        "http://metadata.internal/",
    ],
)
def test_blocked_destinations_are_refused_before_any_connection(sandbox: Any, url: str) -> None:
    resolver = static_resolver({"metadata.internal": ["169.254.169.254"]})
    policy = policy_for(sandbox, resolver=resolver)
    [answer] = run(AsyncBatchClient(policy=policy), [OutboundRequest(method="GET", url=url)])
    assert isinstance(answer, BlockedDestination | InvalidRequest) or getattr(
        answer, "code", ""
    ) in ("blocked_destination", "invalid_url", "dns_failure")


def test_a_public_name_resolved_to_the_allowed_address_connects_there(sandbox: Any) -> None:
    resolver = static_resolver({"api.customer.example": ["127.0.0.1"]})
    policy = OutboundPolicy(
        allowlist=Allowlist.from_entries([f"127.0.0.1:{sandbox.port}"]), resolver=resolver
    )
    url = f"http://api.customer.example:{sandbox.port}/oauth/access_token?grant_type=client_credentials"
    request = OutboundRequest(
        method="POST",
        url=url,
        body=b"client_id=demo-client&client_secret=demo-client-secret",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    [answer] = run(AsyncBatchClient(policy=policy), [request])
    assert isinstance(answer, Exchange) and answer.status == 200 and answer.peer_ip == "127.0.0.1"


def test_the_deadline_bounds_a_slow_answer(sandbox: Any) -> None:
    sandbox.set_faults(latency_ms=3000)
    started = time.monotonic()
    [answer] = run(
        AsyncBatchClient(policy=policy_for(sandbox)), [token_request(sandbox, deadline_s=0.5)]
    )
    assert isinstance(answer, UpstreamTimeout)
    assert time.monotonic() - started < 1.5


def test_the_size_cap_stops_an_oversized_body(sandbox: Any, demo_endpoint: Any) -> None:
    from integrations.services.calls import call_prepare, call_request

    sandbox.set_faults(oversized_body_bytes=3 * 1024 * 1024)
    call = call_prepare(endpoint=demo_endpoint)
    request = call_request(call=call)
    assert request is not None
    capped = OutboundRequest(**{**request.__dict__, "max_bytes": 1024 * 1024})
    [answer] = run(AsyncBatchClient(policy=policy_for(sandbox)), [capped])
    assert isinstance(answer, UpstreamTooLarge)


def test_a_batch_of_probes_goes_out_on_the_asyncio_client(
    demo_endpoint: Any, sandbox: Any, settings: Any, db: None
) -> None:
    from integrations import clock
    from integrations.models import Endpoint, ProbeResult
    from integrations.services.dispatch import health_rows_ensure
    from integrations.services.probe_runs import probe_batch_run

    settings.PROBE_CLIENT = "aiohttp"
    clones = [demo_endpoint]
    for n in range(5):
        clone = Endpoint.objects.get(pk=demo_endpoint.pk)
        clone.pk, clone.slug = None, f"clone-{n}"
        clone.save()
        clones.append(clone)
    health_rows_ensure()
    sandbox.set_faults(latency_ms=200)
    due = clock.now()
    started = time.monotonic()
    assert probe_batch_run(slots=[(e.pk, due) for e in clones]) == 6
    assert time.monotonic() - started < 6 * 0.2 + 0.8  # the 200 ms answers overlapped
    assert ProbeResult.objects.filter(ok=True).count() == 6


def test_requests_to_one_origin_each_reach_their_own_path_method_headers_and_body() -> None:
    with serving(ok_json) as server:
        policy = OutboundPolicy(allowlist=Allowlist.from_entries([server.hostport]))
        batch = [
            OutboundRequest("GET", server.url("/alpha?x=1"), headers={"X-Which": "alpha"}),
            OutboundRequest(
                "POST", server.url("/beta/orders/42"), headers={"X-Which": "beta"}, json={"n": 42}
            ),
            OutboundRequest("PUT", server.url("/gamma"), headers={"X-Which": "gamma"}, body=b"g"),
        ]
        answers = run(AsyncBatchClient(policy=policy), batch)
        received = {r.target: r for r in server.requests}
    assert sorted(received) == ["/alpha?x=1", "/beta/orders/42", "/gamma"]
    alpha, beta, gamma = received["/alpha?x=1"], received["/beta/orders/42"], received["/gamma"]
    assert (alpha.method, alpha.header("X-Which"), alpha.body) == ("GET", "alpha", b"")
    assert (beta.method, beta.header("X-Which"), beta.body) == ("POST", "beta", b'{"n":42}')
    assert beta.header("Content-Type") == "application/json"
    assert (gamma.method, gamma.header("X-Which"), gamma.body) == ("PUT", "gamma", b"g")
    urls = [answer.request.url for answer in answers]
    assert urls == [server.url("/alpha?x=1"), server.url("/beta/orders/42"), server.url("/gamma")]


@pytest.mark.parametrize(
    "bad", [non_http_banner, conflicting_lengths, negative_length], ids=lambda h: h.__name__
)
def test_one_bad_upstream_fails_alone_and_the_batch_returns_every_outcome(bad: Any) -> None:
    with serving(ok_json) as good, serving(bad) as broken:
        policy = OutboundPolicy(allowlist=Allowlist.from_entries([good.hostport, broken.hostport]))
        batch = [
            OutboundRequest("GET", good.url("/one")),
            OutboundRequest("GET", broken.url("/two")),
            OutboundRequest("GET", good.url("/three")),
        ]
        first, second, third = run(AsyncBatchClient(policy=policy), batch)
    assert isinstance(first, Exchange) and first.status == 200
    assert isinstance(third, Exchange) and third.status == 200
    assert isinstance(second, MalformedResponse)
    assert second.exchange is not None and second.exchange.request.url == broken.url("/two")
    assert broken.hostport in second.message


def test_an_unaccepted_connection_is_a_connect_timeout_not_the_deadline() -> None:
    with full_accept_queue() as port:
        policy = OutboundPolicy(
            allowlist=Allowlist.from_entries([f"127.0.0.1:{port}"]),
            connect_timeout_s=0.3,
            deadline_s=5.0,
        )
        started = time.monotonic()
        [answer] = run(
            AsyncBatchClient(policy=policy), [OutboundRequest("GET", f"http://127.0.0.1:{port}/")]
        )
        elapsed = time.monotonic() - started
    assert isinstance(answer, UpstreamTimeout)
    assert (answer.phase, answer.timeout_s) == ("connect", 0.3)
    assert elapsed < 0.3 + 0.5


def test_a_rate_limit_is_an_http_error_with_retry_after_unless_the_caller_wants_the_answer() -> (
    None
):
    with serving(rate_limited) as server:
        policy = OutboundPolicy(allowlist=Allowlist.from_entries([server.hostport]))
        raised, returned = run(
            AsyncBatchClient(policy=policy),
            [
                OutboundRequest("GET", server.url("/a")),
                OutboundRequest("GET", server.url("/b"), raise_for_status=False),
            ],
        )
    assert isinstance(raised, UpstreamHttpError)
    assert (raised.status, raised.retry_after) == (429, 7.0)
    assert raised.exchange is not None and raised.exchange.status == 429
    assert isinstance(returned, Exchange) and returned.status == 429


def test_a_too_large_answer_carries_the_real_status_and_rounded_timings() -> None:
    with serving(body_of(3 * 1024 * 1024, declare_length=True)) as server:
        policy = OutboundPolicy(
            allowlist=Allowlist.from_entries([server.hostport]), max_response_bytes=1024 * 1024
        )
        [answer] = run(AsyncBatchClient(policy=policy), [OutboundRequest("GET", server.url())])
    assert isinstance(answer, UpstreamTooLarge) and answer.received == 0
    assert answer.exchange is not None and answer.exchange.status == 200
    assert answer.exchange.elapsed_ms == round(answer.exchange.elapsed_ms, 2)
    assert answer.exchange.ttfb_ms == round(answer.exchange.ttfb_ms or 0, 2)


def test_redirects_are_followed_hop_by_hop_and_credentials_stay_with_their_host() -> None:
    with serving(ok_json) as target, serving(redirect_to_query) as origin:
        policy = OutboundPolicy(
            allowlist=Allowlist.from_entries([origin.hostport, target.hostport])
        )
        hop_url = origin.url(f"/start?status=307&to={quote(target.url('/landing?y=2'), safe='')}")
        request = OutboundRequest(
            "POST",
            hop_url,
            headers={"Authorization": "Bearer s3cret", "X-Trace": "t1"},
            body=b"payload",
            follow_redirects=True,
        )
        [answer] = run(AsyncBatchClient(policy=policy), [request])
        [landed] = target.requests
    assert isinstance(answer, Exchange) and answer.status == 200
    assert (landed.method, landed.target, landed.body) == ("POST", "/landing?y=2", b"payload")
    assert landed.header("Authorization") is None and landed.header("X-Trace") == "t1"
    assert [hop.status for hop in answer.redirects] == [307]
    assert answer.redirects[0].dropped_headers == ("Authorization",)


def test_a_redirect_loop_is_too_many_redirects_like_the_synchronous_client() -> None:
    with serving(redirect_loop) as server:
        policy = OutboundPolicy(
            allowlist=Allowlist.from_entries([server.hostport]), max_redirects=3
        )
        request = OutboundRequest("GET", server.url("/loop/0"), follow_redirects=True)
        [answer] = run(AsyncBatchClient(policy=policy), [request])
        with pytest.raises(TooManyRedirects) as caught:
            send(request, policy=policy)
    assert isinstance(answer, TooManyRedirects) and answer.limit == 3
    assert answer.message == caught.value.message
    assert answer.exchange is not None and len(answer.exchange.redirects) == 4


def test_a_redirect_to_a_refused_address_is_blocked_at_the_hop() -> None:
    with serving(redirect_to("http://169.254.169.254/latest/meta-data/")) as server:
        policy = OutboundPolicy(allowlist=Allowlist.from_entries([server.hostport]))
        request = OutboundRequest("GET", server.url("/"), follow_redirects=True)
        [answer] = run(AsyncBatchClient(policy=policy), [request])
    assert isinstance(answer, BlockedDestination)
    assert answer.exchange is not None and len(answer.exchange.redirects) == 1
