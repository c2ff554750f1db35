"""A customer answering with JSON nested far deeper than any API needs.

Python's decoder raises RecursionError near a thousand levels, and a value just under
that still breaks whatever walks it next (redaction, assertions, the database
adapter). The answer is a malformed response in every client, with a stored record.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from integrations import clock
from integrations.models import ProbeResult, TestCall
from integrations.services.dispatch import health_rows_ensure
from integrations.services.probe_runs import probe_batch_run
from integrations.services.test_calls import test_call_run
from tests.integrations.fault_world import KEY_CANARY, fault_endpoint, fault_environment
from tests.integrations.outbound_servers import HostileServer, Received, respond, serving

pytestmark = pytest.mark.django_db

DEPTHS = [100_000, 900, 201]


def nested(depth: int) -> Any:
    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        body = b"[" * depth + b"1" + b"]" * depth
        return respond(conn, 200, body, Content_Type="application/json")

    return handler


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_test_call_of_a_deeply_nested_answer_is_a_stored_malformed_response(
    settings: Any, admin_user: User, depth: int
) -> None:
    with serving(nested(depth)) as server:
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        endpoint = fault_endpoint(fault_environment(port=server.port))
        call = test_call_run(endpoint=endpoint, test_user=None, actor=admin_user)
        assert len(server.requests) == 1
    call = TestCall.objects.get(pk=call.pk)
    assert (call.ok, call.status, call.error_code) == (False, 200, "malformed_response")
    assert "levels deep" in call.error_message
    assert KEY_CANARY not in json.dumps([call.request, call.response])
    browser = Client()
    browser.force_login(admin_user)
    page = browser.get(f"/admin/integrations/testcall/{call.pk}/change/")
    assert page.status_code == 200 and b"malformed_response" in page.content


@pytest.mark.parametrize("client", ["aiohttp", "threads"])
def test_a_probe_of_a_deeply_nested_answer_fails_as_malformed_beside_a_healthy_one(
    settings: Any, client: str
) -> None:
    settings.PROBE_CLIENT = client
    with serving(nested(100_000)) as deep, serving(nested(3)) as shallow:
        settings.OUTBOUND_ALLOWLIST = [deep.hostport, shallow.hostport]
        bad = fault_endpoint(fault_environment(port=deep.port, slug="deep"))
        good = fault_endpoint(fault_environment(port=shallow.port, slug="flat"))
        health_rows_ensure()
        now = clock.now()
        assert probe_batch_run(slots=[(bad.pk, now), (good.pk, now)]) == 2
    results = {r.endpoint_id: r for r in ProbeResult.objects.all()}
    assert (results[bad.pk].ok, results[bad.pk].error_class) == (False, "malformed")
    assert results[good.pk].ok
