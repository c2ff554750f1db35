"""A test call that gets no usable answer is still stored, shown and served by the API.

Each fault is a real local server (or a port nobody listens on) misbehaving the way a
customer's API does when it is down; the call goes out through the real outbound edge.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import AuditEvent, Endpoint, TestCall
from integrations.services.test_calls import test_call_run
from tests.helpers import find_leaks, stored_texts
from tests.integrations.fault_world import (
    KEY_CANARY,
    closed_port,
    fault_endpoint,
    fault_environment,
    full_accept_queue,
    non_http_banner,
)
from tests.integrations.outbound_servers import (
    body_of,
    redirect_loop,
    redirect_to,
    reset_before_response,
    serving,
    slow_headers,
)

pytestmark = pytest.mark.django_db


@contextmanager
def _served(handler: Any) -> Iterator[int]:
    with serving(handler) as server:
        yield server.port


@dataclass(frozen=True)
class Fault:
    name: str
    port: Callable[[], AbstractContextManager[int]]
    codes: frozenset[str]  # the typed error code(s) the record must carry
    endpoint: dict[str, Any] = field(default_factory=dict)
    status: int | None = None  # what the customer answered, when it answered at all
    hops: int = 0  # redirect answers followed before the failure
    names: str = "127.0.0.1"  # the host the error message must name


FAULTS = [
    Fault("refused", closed_port, frozenset({"connect_failure"})),
    Fault("connect timeout", full_accept_queue, frozenset({"upstream_timeout"})),
    Fault(
        "deadline",
        lambda: _served(slow_headers(interval=0.05)),
        frozenset({"upstream_timeout"}),
        {"timeout_ms": 400},
    ),
    Fault("reset", lambda: _served(reset_before_response), frozenset({"connection_reset"})),
    # Not an HTTP answer at all: the customer answered something unusable.
    Fault(
        "non-HTTP reply",
        lambda: _served(non_http_banner),
        frozenset({"malformed_response"}),
    ),
    Fault(
        "too many redirects",
        lambda: _served(redirect_loop),
        frozenset({"too_many_redirects"}),
        {"follow_redirects": True},
        hops=6,
    ),
    Fault(
        "redirect to a refused address",
        lambda: _served(redirect_to("http://169.254.169.254/latest/meta-data/")),
        frozenset({"blocked_destination"}),
        {"follow_redirects": True},
        hops=1,
        names="169.254.169.254",
    ),
    Fault(
        "too large",
        lambda: _served(body_of(4096, declare_length=True)),
        frozenset({"upstream_too_large"}),
        status=200,
    ),
    Fault(
        "too large, chunked",
        lambda: _served(body_of(4096, declare_length=False)),
        frozenset({"upstream_too_large"}),
        status=200,
    ),
]


@pytest.fixture(params=FAULTS, ids=[f.name for f in FAULTS])
def fault(request: pytest.FixtureRequest, settings: Any) -> Iterator[tuple[Fault, Endpoint]]:
    spec: Fault = request.param
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 1024
    with spec.port() as port:
        settings.OUTBOUND_ALLOWLIST = [f"127.0.0.1:{port}"]
        endpoint = fault_endpoint(fault_environment(port=port), **spec.endpoint)
        yield spec, endpoint


def assert_full_record(call: TestCall, spec: Fault) -> None:
    """The row holds the request as sent, what arrived, the typed error and the timings."""
    assert not call.ok
    assert call.error_code in spec.codes, (call.error_code, call.error_message)
    assert spec.names in call.error_message
    assert call.status == spec.status
    assert call.duration_ms is not None and call.duration_ms > 0
    response = call.response
    hops = response.get("redirects", [])
    assert len(hops) == spec.hops
    sent = hops[0]["request"] if hops else call.request  # the first request, as sent
    assert sent["method"] == "POST"
    assert sent["url"].endswith("/v1/orders/A-1001?expand=lines")
    assert dict(sent["headers"])["X-Api-Key"] == "[REDACTED]"
    assert response["status"] == spec.status
    assert response["elapsed_ms"] is not None and response["peer_ip"] == "127.0.0.1"
    if spec.status is not None:
        assert response["headers"] and response["truncated"] is True
    record = json.dumps([call.request, call.response, call.error_message, call.curl])
    assert find_leaks([record], [KEY_CANARY]) == []


def test_a_failed_test_call_stores_the_whole_record(
    fault: tuple[Fault, Endpoint], admin_user: User
) -> None:
    spec, endpoint = fault
    call = test_call_run(endpoint=endpoint, test_user=None, actor=admin_user)
    call.refresh_from_db()
    assert_full_record(call, spec)
    assert "curl" in call.curl and KEY_CANARY not in call.curl
    event = AuditEvent.objects.get(action="test_call")
    assert event.detail == {
        "test_call": call.pk,
        "status": spec.status,
        "error_code": call.error_code,
    }
    assert find_leaks((v for _, _, v in stored_texts()), [KEY_CANARY]) == []


def test_the_admin_shows_a_failed_test_call(
    fault: tuple[Fault, Endpoint], admin_client: Client
) -> None:
    spec, endpoint = fault
    url = reverse("admin:integrations_endpoint_test_call", args=[endpoint.pk])
    response = admin_client.post(url, {"variables": "{}"})
    assert response.status_code == 302, response.content.decode()[:2000]
    call = TestCall.objects.get()
    assert_full_record(call, spec)
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    shown = "HTTP 200" if spec.status else "no response"
    assert f'<span id="call-status">{shown}</span>' in html
    assert call.error_code in html and "/v1/orders/A-1001" in html
    assert ('id="no-response"' in html) is (spec.status is None)
    assert KEY_CANARY not in html
    form = admin_client.get(url).content.decode()  # the recent list shows it too
    assert call.error_code in form


def test_the_api_returns_a_failed_test_call(
    fault: tuple[Fault, Endpoint], admin_user: User
) -> None:
    spec, endpoint = fault
    api = APIClient()
    api.force_login(admin_user)
    url = reverse("endpoint-test-calls", args=[endpoint.pk])
    created = api.post(url, {}, format="json")
    assert created.status_code == 201, created.content[:2000]
    body = created.json()
    assert body["ok"] is False and body["status"] == spec.status
    assert body["error_code"] in spec.codes and body["error_message"]
    assert body["request"]["url"].startswith(endpoint.environment.base_url)
    assert body["response"]["status"] == spec.status
    listed = api.get(url).json()
    assert listed["count"] == 1 and listed["results"][0]["error_code"] == body["error_code"]
    assert KEY_CANARY not in created.content.decode() + json.dumps(listed)
