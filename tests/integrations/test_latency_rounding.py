"""Every latency a person reads is rounded: API output, readiness evidence, pages.

A probe once showed ``46.93032199975278`` ms. The figures come from the outbound
clients (rounded there) and from sums and medians computed later (rounded again).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client, override_settings

from integrations.models import Endpoint
from integrations.services.readiness.context import readiness_context
from integrations.services.readiness.latency import _judge
from integrations.services.readiness.runner import CHECKS
from tests.factories import make_user
from tests.integrations.api_world import client_as

pytestmark = pytest.mark.django_db


def latencies(document: Any, where: str = "") -> Iterator[tuple[str, float]]:
    """Every number under a key that names milliseconds (``*_ms``, ``ms``), with its path."""
    if isinstance(document, dict):
        for key, value in document.items():
            path = f"{where}.{key}"
            if (key == "ms" or key.endswith("_ms")) and isinstance(value, int | float):
                yield path, float(value)
            elif key.endswith("_ms") and isinstance(value, list):
                yield from ((f"{path}[]", float(v)) for v in value if isinstance(v, int | float))
            else:
                yield from latencies(value, path)
    elif isinstance(document, list):
        for index, item in enumerate(document):
            yield from latencies(item, f"{where}[{index}]")


def unrounded(document: Any) -> list[tuple[str, float]]:
    return [(path, value) for path, value in latencies(document) if value != round(value, 2)]


def test_api_output_of_probes_health_test_calls_and_readiness_is_rounded(
    demo_endpoint: Endpoint,
) -> None:
    engineer = client_as("engineer")
    probe = engineer.post(f"/api/v1/endpoints/{demo_endpoint.pk}/probe/").json()
    health = engineer.get("/api/v1/endpoint-health/").json()
    call = engineer.post(
        f"/api/v1/endpoints/{demo_endpoint.pk}/test-calls/", {"variables": {}}, format="json"
    ).json()
    report = engineer.post(f"/api/v1/environments/{demo_endpoint.environment_id}/readiness/")

    documents = {"probe": probe, "health": health, "call": call, "readiness": report.json()}
    found = {name: list(latencies(document)) for name, document in documents.items()}
    assert all(found.values()), found  # each document does show latencies
    assert {name: unrounded(document) for name, document in documents.items()} == {
        name: [] for name in documents
    }


def test_the_environment_page_shows_whole_milliseconds(
    demo_endpoint: Endpoint, client: Client
) -> None:
    client.force_login(make_user("engineer"))
    client.post("/customers/demo-bank/uat/endpoints/getprofile/probe/")

    html = client.get("/customers/demo-bank/uat/").content.decode()

    row = html[html.index('id="endpoint-getprofile"') :]
    latency = row.split('<td class="num">', 1)[1].split("<", 1)[0]
    assert re.fullmatch(r"\d+ ms", latency), latency


@dataclass
class Timed:
    """What the latency judge reads of a sampled exchange."""

    elapsed_ms: float


@override_settings(READINESS_LATENCY_SAMPLES=2)
def test_the_median_of_two_samples_is_rounded_like_the_samples(demo_endpoint: Endpoint) -> None:
    check = next(c for c in CHECKS if c.id == "latency")
    samples = iter([Timed(1.1), Timed(2.2)])  # their mean is 1.6500000000000001 in floats
    context = readiness_context(environment=demo_endpoint.environment)

    result = _judge(check, context, "endpoint:getprofile", lambda: next(samples))  # type: ignore[arg-type, return-value]

    assert result.evidence["timings_ms"] == [1.1, 2.2]
    assert repr(result.evidence["median_ms"]) == "1.7"
