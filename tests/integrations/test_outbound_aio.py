"""The asyncio client of the outbound edge: same address policy, deadline and size cap."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from integrations.outbound import (
    Allowlist,
    BlockedDestination,
    Exchange,
    InvalidRequest,
    OutboundPolicy,
    OutboundRequest,
    UpstreamTimeout,
    UpstreamTooLarge,
    static_resolver,
)
from integrations.outbound.aio import AsyncBatchClient


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
