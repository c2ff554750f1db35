"""One fault, one error code: probes (both clients), test calls and readiness evidence
store the same code when the same customer server misbehaves the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User

from integrations import clock
from integrations.models import Endpoint, Environment, ProbeResult, TestCall
from integrations.services.dispatch import health_rows_ensure
from integrations.services.probe_runs import probe_batch_run
from integrations.services.test_calls import test_call_run
from tests.integrations.fault_world import (
    closed_port,
    fault_endpoint,
    fault_environment,
    full_accept_queue,
    non_http_banner,
    rate_limited_for,
)
from tests.integrations.outbound_servers import (
    body_of,
    reset_before_response,
    serving,
    slow_headers,
)
from tests.integrations.readiness_support import run_checks

pytestmark = pytest.mark.django_db


@contextmanager
def _served(handler: Any) -> Iterator[int]:
    with serving(handler) as server:
        yield server.port


@dataclass(frozen=True)
class Fault:
    name: str
    port: Callable[[], AbstractContextManager[int]]
    codes: frozenset[str]  # the code every record must carry (one of these)
    status: int | None = None
    endpoint: dict[str, Any] = field(default_factory=dict)


FAULTS = [
    Fault("refused", closed_port, frozenset({"connect_failure"})),
    Fault("connect timeout", full_accept_queue, frozenset({"upstream_timeout"})),
    Fault(
        "deadline",
        lambda: _served(slow_headers(interval=0.05)),
        frozenset({"upstream_timeout"}),
        endpoint={"timeout_ms": 500},
    ),
    Fault("reset", lambda: _served(reset_before_response), frozenset({"connection_reset"})),
    # Not an HTTP answer at all: the customer answered something unusable.
    Fault(
        "non-HTTP reply",
        lambda: _served(non_http_banner),
        frozenset({"malformed_response"}),
    ),
    Fault(
        "too large",
        lambda: _served(body_of(4096, declare_length=True)),
        frozenset({"upstream_too_large"}),
        status=200,
    ),
    Fault(
        "429",
        lambda: _served(rate_limited_for(7)),
        frozenset({"upstream_http_error"}),
        status=429,
    ),
]


@pytest.fixture(params=FAULTS, ids=[f.name for f in FAULTS])
def fault(request: pytest.FixtureRequest, settings: Any) -> Iterator[tuple[Fault, list[Endpoint]]]:
    """Two endpoints on the misbehaving server: two, so the asyncio client batches them."""
    spec: Fault = request.param
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 1024
    with spec.port() as port:
        settings.OUTBOUND_ALLOWLIST = [f"127.0.0.1:{port}"]
        environment = fault_environment(port=port)
        yield (
            spec,
            [
                fault_endpoint(environment, slug=slug, **spec.endpoint)
                for slug in ("orders", "refunds")
            ],
        )


def codes_of_probes(endpoints: list[Endpoint], settings: Any, client: str) -> set[tuple[str, Any]]:
    settings.PROBE_CLIENT = client
    ProbeResult.objects.all().delete()
    now = clock.now()
    health_rows_ensure()
    probe_batch_run(slots=[(e.pk, now) for e in endpoints])
    return {(r.error_code, r.status) for r in ProbeResult.objects.all()}


def codes_of_test_calls(endpoints: list[Endpoint], actor: User) -> set[tuple[str, Any]]:
    calls = [test_call_run(endpoint=e, test_user=None, actor=actor) for e in endpoints]
    return {(call.error_code, call.status) for call in calls}


def codes_of_readiness(environment: Environment) -> set[tuple[str, Any]]:
    results = run_checks(environment, "endpoint.accepts_complete_call")
    return {(r["evidence"].get("error_code"), _status(r["evidence"])) for r in results}


def _status(evidence: dict[str, Any]) -> int | None:
    exchange = evidence.get("exchange") or {}
    return (exchange.get("response") or {}).get("status")


def test_probes_test_calls_and_readiness_store_one_code_per_fault(
    fault: tuple[Fault, list[Endpoint]], settings: Any, admin_user: User
) -> None:
    spec, endpoints = fault
    stored = {
        "probe, aiohttp": codes_of_probes(endpoints, settings, "aiohttp"),
        "probe, threads": codes_of_probes(endpoints, settings, "threads"),
        "test call": codes_of_test_calls(endpoints, admin_user),
        "readiness": codes_of_readiness(endpoints[0].environment),
    }
    codes = {code for pairs in stored.values() for code, _ in pairs}
    assert len(codes) == 1 and codes <= spec.codes, stored
    statuses = {status for pairs in stored.values() for _, status in pairs}
    assert statuses == {spec.status}, stored
    assert TestCall.objects.count() == len(endpoints)
