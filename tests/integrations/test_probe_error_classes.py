"""Probes file a refused destination, an oversized answer, a malformed answer and a
redirect loop under their own error classes, and the dashboards show those classes.

One batch holds every fault (two endpoints each, so the asyncio client sends them as
a batch), against real local servers, with both probe clients.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from integrations import clock
from integrations.models import (
    Customer,
    Endpoint,
    Environment,
    HourlyRollup,
    ProbeResult,
)
from integrations.services.dispatch import health_rows_ensure
from integrations.services.probe_runs import probe_batch_run
from tests.factories import make_user
from tests.integrations.outbound_servers import (
    HostileServer,
    Received,
    body_of,
    malformed_json,
    recording_connects,
    redirect_loop,
    respond,
    serving,
)

pytestmark = pytest.mark.django_db

METRICS_TOKEN = "metrics-token-for-error-classes"


def bad_gzip(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    return respond(conn, 200, b"this is not gzip", Content_Encoding="gzip")


# (environment slug, handler or None for a refused address, endpoint fields, class, codes)
FAULTS: list[tuple[str, Any, dict[str, Any], str, set[str]]] = [
    ("blocked", None, {}, "blocked", {"blocked_destination"}),
    ("too-large", body_of(4096, declare_length=True), {}, "too_large", {"upstream_too_large"}),
    ("chunked", body_of(4096, declare_length=False), {}, "too_large", {"upstream_too_large"}),
    ("bad-json", malformed_json, {}, "malformed", {"malformed_response"}),
    ("bad-gzip", bad_gzip, {}, "malformed", {"malformed_response"}),
    (
        "loop",
        redirect_loop,
        {"follow_redirects": True},
        "malformed",
        {"too_many_redirects"},
    ),
]


@pytest.fixture
def faulty(settings: Any) -> Iterator[dict[int, tuple[str, set[str]]]]:
    """Endpoint id -> (expected class, expected codes); one environment per fault."""
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 1024
    customer = Customer.objects.create(name="Faulty", slug="faulty")
    expected: dict[int, tuple[str, set[str]]] = {}
    with ExitStack() as stack:
        allowed = []
        for slug, handler, fields, error_class, codes in FAULTS:
            if handler is None:
                base = "http://10.20.30.40:8080"  # private and not allow-listed
            else:
                server = stack.enter_context(serving(handler))
                allowed.append(server.hostport)
                base = server.url()
            environment = Environment.objects.create(
                customer=customer, name=slug, slug=slug, base_url=base, deadline_ms=3000
            )
            for n in (1, 2):
                endpoint = Endpoint.objects.create(
                    environment=environment, name=f"E{n}", slug=f"e{n}", path=f"/e{n}", **fields
                )
                expected[endpoint.pk] = (error_class, codes)
        settings.OUTBOUND_ALLOWLIST = allowed
        yield expected


@pytest.mark.parametrize("client", ["aiohttp", "threads"])
def test_probes_file_each_fault_under_its_own_class(
    faulty: dict[int, tuple[str, set[str]]], settings: Any, client: str
) -> None:
    settings.PROBE_CLIENT = client
    now = clock.now()
    health_rows_ensure()

    with recording_connects() as attempts:
        assert probe_batch_run(slots=[(pk, now) for pk in faulty]) == len(faulty)
    assert attempts and {host for host, _ in attempts} == {"127.0.0.1"}  # 10.x: never dialled

    results = {r.endpoint_id: r for r in ProbeResult.objects.filter(endpoint_id__in=faulty)}
    filed = {pk: (r.error_class, r.error_code) for pk, r in results.items()}
    for pk, (error_class, codes) in faulty.items():
        assert filed[pk][0] == error_class and filed[pk][1] in codes, (pk, filed[pk])
        assert results[pk].message and not results[pk].ok
    rollups = HourlyRollup.objects.filter(endpoint_id__in=faulty)
    totals = {name: sum(getattr(r, name) for r in rollups) for name in FAILURE_COUNTERS}
    assert totals == {"fail_blocked": 2, "fail_too_large": 4, "fail_malformed": 6, "fail_other": 0}


FAILURE_COUNTERS = ["fail_blocked", "fail_too_large", "fail_malformed", "fail_other"]


def test_metrics_and_the_environment_page_show_the_new_classes(
    faulty: dict[int, tuple[str, set[str]]], settings: Any, client: Client
) -> None:
    settings.PORTAL_METRICS_TOKEN = METRICS_TOKEN
    now = clock.now()
    health_rows_ensure()
    probe_batch_run(slots=[(pk, now) for pk in faulty])

    scraped = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert scraped.status_code == 200
    # Every outcome has a series (at 0 until counted): the counted ones are above 0.
    counted = {
        s.labels["outcome"]
        for family in text_string_to_metric_families(scraped.content.decode())
        if family.name == "portal_probes"
        for s in family.samples
        if s.value > 0
    }
    assert {"blocked", "too_large", "malformed"} <= counted and "other" not in counted

    client.force_login(make_user("viewer"))
    page = client.get("/customers/faulty/too-large/")
    assert page.status_code == 200
    assert "too_large" in page.content.decode() and "upstream_too_large" in page.content.decode()
