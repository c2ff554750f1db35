"""Test calls from the admin and the API: stored redacted, curl export, no secret anywhere."""

from __future__ import annotations

import json
import logging
import os
import subprocess
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import AccessToken, AuditEvent, Endpoint, TestCall, UserSession
from integrations.services.test_calls import test_call_run
from tests.helpers import find_leaks, stored_texts

pytestmark = pytest.mark.django_db


def tokens_of(call: TestCall) -> list[str]:
    """The bearer token and JWT that went over the wire (read back from the cache)."""
    endpoint = call.endpoint
    return [
        AccessToken.objects.get(pk=endpoint.oauth_client_id).token.reveal(),
        UserSession.objects.get(pk=endpoint.default_test_user_id).token.reveal(),
    ]


def test_a_test_call_is_stored_redacted_with_its_auth_steps(
    demo_endpoint: Endpoint, admin_user: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    call = test_call_run(endpoint=demo_endpoint, test_user=None, actor=admin_user)
    assert call.ok and call.status == 200 and call.actor_label == "admin"
    assert [s["name"] for s in call.auth_steps] == ["oauth_token", "customer_auth"]
    assert call.response["body"] and "customer_id" in json.dumps(call.response)
    secrets = ["demo-client-secret", "demo-api-key", "alice-password", *tokens_of(call)]
    record = json.dumps([call.request, call.response, call.auth_steps, call.curl])
    assert find_leaks([record], secrets) == []
    assert find_leaks((v for _, _, v in stored_texts()), secrets) == []
    assert find_leaks([caplog.text], secrets) == []
    assert "[REDACTED]" in record
    event = AuditEvent.objects.get(action="test_call")
    assert event.actor == admin_user and event.detail["test_call"] == call.pk


def test_the_curl_export_uses_shell_variables_and_really_works(
    demo_endpoint: Endpoint, admin_user: User, sandbox: Any
) -> None:
    call = test_call_run(endpoint=demo_endpoint, test_user=None, actor=admin_user)
    script = call.curl
    for variable in (
        "$ACCESS_TOKEN",
        "$CUSTOMER_JWT",
        "$API_KEY",
        "$CLIENT_SECRET",
        "$TEST_USER_PASSWORD",
    ):
        assert variable.replace("$", "${") + "}" in script or variable in script
    assert (
        find_leaks(
            [script], ["demo-client-secret", "demo-api-key", "alice-password", *tokens_of(call)]
        )
        == []
    )
    env = {
        **os.environ,
        "CLIENT_SECRET": "demo-client-secret",
        "TEST_USER_PASSWORD": "alice-password",
        "API_KEY": "demo-api-key",
    }
    run = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert "HTTP/1.1 200" in run.stdout and '"customer_id"' in run.stdout


def test_the_admin_runs_a_test_call_and_shows_the_wire(
    demo_endpoint: Endpoint, admin_client: Client
) -> None:
    url = reverse("admin:integrations_endpoint_test_call", args=[demo_endpoint.pk])
    form = admin_client.get(url)
    assert form.status_code == 200 and "Run test call" in form.content.decode()
    response = admin_client.post(
        url, {"test_user": demo_endpoint.default_test_user_id, "variables": "{}"}
    )
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert "HTTP 200" in page and "oauth_token" in page and "Copy as curl" in page
    call = TestCall.objects.get()
    assert (
        find_leaks(
            [page], ["demo-client-secret", "demo-api-key", "alice-password", *tokens_of(call)]
        )
        == []
    )
    endpoint_page = admin_client.get(
        reverse("admin:integrations_endpoint_change", args=[demo_endpoint.pk])
    ).content.decode()
    assert url in endpoint_page


def test_the_api_runs_a_test_call_and_lists_the_history(
    demo_endpoint: Endpoint, admin_user: User
) -> None:
    api = APIClient()
    api.force_login(admin_user)
    url = reverse("endpoint-test-calls", args=[demo_endpoint.pk])
    created = api.post(url, {"test_user": demo_endpoint.default_test_user_id}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["status"] == 200 and created.json()["ok"] is True
    listed = api.get(url).json()
    assert listed["count"] == 1 and listed["results"][0]["actor_label"] == "admin"
    call = TestCall.objects.get()
    assert (
        find_leaks(
            [created.content.decode(), json.dumps(listed)],
            ["demo-client-secret", "demo-api-key", "alice-password", *tokens_of(call)],
        )
        == []
    )


def test_the_api_refuses_anonymous_and_non_staff_callers(demo_endpoint: Endpoint) -> None:
    url = reverse("endpoint-test-calls", args=[demo_endpoint.pk])
    assert APIClient().post(url, {}, format="json").status_code == 401
    api = APIClient()
    api.force_login(User.objects.create_user("viewer", password="x"))
    assert api.post(url, {}, format="json").status_code == 403
    assert not TestCall.objects.exists()


def test_a_test_call_that_fails_at_the_token_step_is_stored_with_the_step(
    demo_endpoint: Endpoint, admin_user: User, sandbox: Any
) -> None:
    sandbox.set_faults(reject=["client"])
    call = test_call_run(endpoint=demo_endpoint, test_user=None, actor=admin_user)
    assert not call.ok and call.status is None and call.error_code == "invalid_client"
    assert call.auth_steps[0]["outcome"] == "failed"
    refused = call.auth_steps[0]["exchange"]  # the refused token request, shown redacted
    assert refused["response"]["status"] == 401 and "invalid_client" in refused["response"]["body"]
    assert "demo-client-secret" not in json.dumps(call.auth_steps)
