"""A token answer the portal refuses after reading its token (a 'mac' token type) still
went over the wire, and the token in it is a live credential: the test call page, the API
trace, the stored rows and the readiness report show the answer with that token hidden,
whatever field carries it and however un-JWT-like it looks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import Endpoint, ReadinessReport, TestCall
from integrations.services.readiness.report import readiness_run
from sandbox.messages import Request, Response
from sandbox.server import SandboxHandler
from tests.helpers import find_leaks, stored_texts
from tests.integrations.readiness_support import DEMO_SECRETS

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(sandbox: Any, monkeypatch: pytest.MonkeyPatch, demo_endpoint: Endpoint) -> list[str]:
    """The opaque tokens the sandbox handed out under 'value', with token_type mac."""
    sandbox.set_faults(token_field="value", token_type="mac")
    client = demo_endpoint.oauth_client
    assert client is not None
    client.access_token_field = "value"
    client.save()
    tokens: list[str] = []
    answer = SandboxHandler.answer

    def recording(handler: SandboxHandler, request: Request) -> Response:
        response: Response = answer(handler, request)
        if request.path == "/oauth/access_token" and response.status == 200:
            tokens.append(json.loads(response.body)["value"])
        return response

    monkeypatch.setattr(SandboxHandler, "answer", recording)
    return tokens


def test_a_refused_token_type_shows_the_answer_without_the_token(
    demo_endpoint: Endpoint, issued: list[str], admin_client: Client, admin_user: User
) -> None:
    url = reverse("admin:integrations_endpoint_test_call", args=[demo_endpoint.pk])
    posted = admin_client.post(url, {"variables": "{}"})
    assert posted.status_code == 302
    html = admin_client.get(posted["Location"]).content.decode()

    call = TestCall.objects.get()
    (step,) = call.auth_steps
    assert step["error_code"] == "unsupported_token_type" and len(issued) == 1
    shown = step["exchange"]["response"]["body"]
    assert '"value": "[REDACTED]"' in shown and '"token_type": "mac"' in shown
    assert "HTTP 200" in html and "mac" in html
    api = APIClient()
    api.force_login(admin_user)
    body = api.get(reverse("test-call-detail", args=[call.pk])).json()
    assert body["trace"][0]["response"]["status"] == 200
    stored = [value for _, _, value in stored_texts()]
    assert find_leaks([html, json.dumps(body), *stored], [*issued, *DEMO_SECRETS]) == []


def test_the_readiness_report_shows_the_refused_answer_without_the_token(
    demo_endpoint: Endpoint, issued: list[str], admin_user: User
) -> None:
    report = readiness_run(environment=demo_endpoint.environment, actor=admin_user)

    (token,) = [r for r in report.results if r["check"] == "oauth.token"]
    assert (
        token["verdict"] == "fail" and token["evidence"]["error_code"] == "unsupported_token_type"
    )
    assert '"value": "[REDACTED]"' in token["evidence"]["exchange"]["response"]["body"]
    assert issued
    report_texts = [json.dumps(row.results) for row in ReadinessReport.objects.all()]
    stored = [value for _, _, value in stored_texts()]
    assert find_leaks([*report_texts, *stored], [*issued, *DEMO_SECRETS]) == []
