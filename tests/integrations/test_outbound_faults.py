"""One fault corpus, both clients: each misbehaving upstream goes through ``send``
(requests) and ``AsyncBatchClient`` (aiohttp), and both must give the same answer.

Same answer means the same typed error class and code, the same timeout phase and
figure, the same status on the exchange attached to the error, within the deadline
plus a little, with memory bounded while a GiB is on offer. A new fault is one row.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations.outbound import (
    Allowlist,
    ConnectionReset,
    Exchange,
    MalformedResponse,
    OutboundError,
    OutboundPolicy,
    OutboundRequest,
    TlsFailure,
    TooManyRedirects,
    UpstreamHttpError,
    UpstreamTimeout,
    UpstreamTooLarge,
    send,
)
from integrations.outbound.aio import AsyncBatchClient
from tests.integrations import outbound_servers as servers

MIB = 1024 * 1024
GIB = 1024 * MIB
DEADLINE_S = 1.0
CONNECT_TIMEOUT_S = 0.5
CAP = MIB
SLACK_S = 0.1  # past the deadline, for scheduling noise on a busy 2-core machine
MEMORY_CEILING = 8 * MIB  # what one call may hold at peak with a 1 MiB cap
SENT_CEILING = 64 * MIB  # what a GiB-offering server may push before we hang up

pytestmark = pytest.mark.timeout(120)

Outcome = Exchange | OutboundError


@dataclass(frozen=True)
class Upstream:
    url: str
    hostport: str
    bytes_sent: Callable[[], int] = lambda: 0


@dataclass(frozen=True)
class Expect:
    error: type[OutboundError] | None  # None: an exchange comes back
    phase: str | None = None
    timeout_s: float | None = None
    status: int | None = None  # of the exchange, returned or attached to the error
    retry_after: float | None = None


@dataclass(frozen=True)
class Fault:
    name: str
    upstream: Callable[[Path], AbstractContextManager[Upstream]]
    expect: Expect
    follow_redirects: bool = False


@contextmanager
def hostile(handler: servers.Handler, **kwargs: Any) -> Iterator[Upstream]:
    with servers.serving(handler, **kwargs) as server:
        yield Upstream(server.url("/orders/42?page=1"), server.hostport, lambda: server.bytes_sent)


def over_http(handler: servers.Handler) -> Callable[[Path], AbstractContextManager[Upstream]]:
    return lambda _tmp: hostile(handler)


@contextmanager
def untrusted_tls(tmp: Path) -> Iterator[Upstream]:
    context, _ca_file = servers.make_tls(tmp, "api.customer.example")
    with servers.serving(servers.ok_json, tls=context) as server:
        yield Upstream(server.url("/x", scheme="https"), server.hostport)


@contextmanager
def tls_alert(_tmp: Path) -> Iterator[Upstream]:
    with servers.raw_serving(servers.tls_handshake_alert) as server:
        yield Upstream(server.url("/x", scheme="https"), server.hostport)


@contextmanager
def unaccepting(_tmp: Path) -> Iterator[Upstream]:
    with servers.full_accept_queue() as port:
        yield Upstream(f"http://127.0.0.1:{port}/x", f"127.0.0.1:{port}")


DEADLINE = Expect(UpstreamTimeout, phase="deadline", timeout_s=DEADLINE_S)
RESET = Expect(ConnectionReset)
MALFORMED = Expect(MalformedResponse)
TOO_LARGE = Expect(UpstreamTooLarge, status=200)

FAULTS = [
    Fault("slow body", over_http(servers.slow_drip(interval=0.05, size=400)), DEADLINE),
    Fault("slow headers", over_http(servers.slow_headers(interval=0.05)), DEADLINE),
    Fault("silence", over_http(servers.silence), DEADLINE),
    Fault("reset mid-body", over_http(servers.reset_mid_body), RESET),
    Fault(
        "content-length over body, closed",
        over_http(servers.length_over_body(then_close=True)),
        RESET,
    ),
    Fault(
        "content-length over body, silent",
        over_http(servers.length_over_body(then_close=False)),
        DEADLINE,
    ),
    Fault("content-length negative", over_http(servers.negative_length), MALFORMED),
    Fault("content-length conflicting", over_http(servers.conflicting_lengths), MALFORMED),
    Fault("1 GiB chunked", over_http(servers.body_of(GIB, declare_length=False)), TOO_LARGE),
    Fault("1 GiB declared", over_http(servers.body_of(GIB, declare_length=True)), TOO_LARGE),
    Fault("gzip bomb (1 GiB)", over_http(servers.compression_bomb("gzip")), TOO_LARGE),
    Fault("deflate bomb (1 GiB)", over_http(servers.compression_bomb("deflate")), TOO_LARGE),
    Fault("bad gzip", over_http(servers.bad_gzip), MALFORMED),
    Fault("non-HTTP banner", over_http(servers.non_http_banner), MALFORMED),
    Fault(
        "redirect loop",
        over_http(servers.redirect_loop),
        Expect(TooManyRedirects),
        follow_redirects=True,
    ),
    Fault(
        "429 with Retry-After",
        over_http(servers.rate_limited),
        Expect(UpstreamHttpError, status=429, retry_after=7.0),
    ),
    Fault(
        "503 with Retry-After",
        over_http(servers.unavailable),
        Expect(UpstreamHttpError, status=503, retry_after=30.0),
    ),
    Fault(
        "connect timeout (full accept queue)",
        unaccepting,
        Expect(UpstreamTimeout, phase="connect", timeout_s=CONNECT_TIMEOUT_S),
    ),
    Fault("TLS handshake failure (alert)", tls_alert, Expect(TlsFailure)),
    Fault("TLS certificate not trusted", untrusted_tls, Expect(TlsFailure)),
]


def policy_for(upstream: Upstream) -> OutboundPolicy:
    return OutboundPolicy(
        allowlist=Allowlist.from_entries([upstream.hostport]),
        connect_timeout_s=CONNECT_TIMEOUT_S,
        deadline_s=DEADLINE_S,
        max_response_bytes=CAP,
        max_redirects=5,
    )


def request_for(upstream: Upstream, fault: Fault) -> OutboundRequest:
    return OutboundRequest(
        "GET",
        upstream.url,
        headers={"Authorization": "Bearer corpus-secret-token"},
        follow_redirects=fault.follow_redirects,
    )


@dataclass(frozen=True)
class Run:
    outcome: Outcome
    seconds: float
    peak_bytes: int


def _measured(call: Callable[[], Outcome]) -> Run:
    tracemalloc.start()
    started = time.monotonic()
    try:
        outcome = call()
        seconds = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Run(outcome, seconds, peak)


def through_requests(request: OutboundRequest, policy: OutboundPolicy) -> Run:
    def call() -> Outcome:
        try:
            return send(request, policy=policy)
        except OutboundError as error:
            return error

    return _measured(call)


def through_aiohttp(request: OutboundRequest, policy: OutboundPolicy) -> Run:
    async def go() -> Run:
        client = AsyncBatchClient(policy=policy)
        await client._ensure_session()  # the session's own set-up is not the call's cost
        tracemalloc.start()
        try:
            started = time.monotonic()
            [outcome] = await client.send_many([request])
            seconds = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            await client.close()
        return Run(outcome, seconds, peak)

    return asyncio.run(go())


CLIENTS = {"requests": through_requests, "aiohttp": through_aiohttp}


def signature(outcome: Outcome) -> dict[str, Any]:
    """What the fault corpus compares between clients and against the expectation."""
    exchange = outcome if isinstance(outcome, Exchange) else outcome.exchange
    return {
        "error": None if isinstance(outcome, Exchange) else type(outcome),
        "code": getattr(outcome, "code", None),
        "phase": getattr(outcome, "phase", None),
        "timeout_s": getattr(outcome, "timeout_s", None),
        "status": exchange.status if exchange is not None else None,
        "retry_after": getattr(outcome, "retry_after", None),
    }


def expected_signature(expect: Expect) -> dict[str, Any]:
    return {
        "error": expect.error,
        "code": expect.error.code if expect.error is not None else None,
        "phase": expect.phase,
        "timeout_s": expect.timeout_s,
        "status": expect.status,
        "retry_after": expect.retry_after,
    }


def run_fault(fault: Fault, tmp: Path) -> dict[str, tuple[Run, int]]:
    """Each client against its own fresh upstream: (run, bytes the server pushed)."""
    runs = {}
    for name, through in CLIENTS.items():
        with fault.upstream(tmp / name) as upstream:
            run = through(request_for(upstream, fault), policy_for(upstream))
            runs[name] = (run, upstream.bytes_sent())
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_both_clients_give_the_same_typed_answer_to_each_fault(
    fault: Fault, tmp_path: Path
) -> None:
    for name in CLIENTS:
        (tmp_path / name).mkdir()
    runs = run_fault(fault, tmp_path)
    for name, (run, bytes_sent) in runs.items():
        assert signature(run.outcome) == expected_signature(fault.expect), name
        assert run.seconds < DEADLINE_S + SLACK_S, name
        assert run.peak_bytes < MEMORY_CEILING, name
        assert bytes_sent < SENT_CEILING, name
        if isinstance(run.outcome, OutboundError):
            assert "corpus-secret-token" not in run.outcome.message
            assert run.outcome.exchange is not None, f"{name}: the request went out"
    requests_run, aiohttp_run = runs["requests"][0], runs["aiohttp"][0]
    assert signature(requests_run.outcome) == signature(aiohttp_run.outcome)


@pytest.mark.slow
@pytest.mark.parametrize(
    "handler",
    [
        servers.body_of(GIB, declare_length=False),
        servers.compression_bomb("gzip"),
        servers.compression_bomb("deflate"),
    ],
    ids=["1 GiB chunked", "gzip bomb", "deflate bomb"],
)
def test_a_too_large_answer_keeps_its_status_and_the_decoded_bytes_up_to_the_cap(
    handler: servers.Handler, tmp_path: Path
) -> None:
    fault = Fault("too large", over_http(handler), TOO_LARGE)
    for name in CLIENTS:
        (tmp_path / name).mkdir()
    for name, (run, _) in run_fault(fault, tmp_path).items():
        error = run.outcome
        assert isinstance(error, UpstreamTooLarge), name
        assert error.exchange is not None and error.exchange.status == 200, name
        assert error.exchange.truncated and len(error.exchange.body) == CAP, name
        assert CAP < error.received <= CAP + 64 * 1024, name
