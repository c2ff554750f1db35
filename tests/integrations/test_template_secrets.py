"""Credentials typed into templates: refused at save time, and hidden wherever a call is
shown when an older row (or a sample variable named like a credential) still holds one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import Endpoint, TestCall
from integrations.services.test_calls import test_call_run
from tests.factories import make_endpoint, make_environment
from tests.helpers import find_leaks
from tests.integrations.api_world import client_as, error_of
from tests.integrations.test_config_validation import admin_post

pytestmark = pytest.mark.django_db

STATIC_TOKEN = "canary-static-token-4471"
BODY_PASSWORD = "canary-body-password-9903"
SAMPLE_TOKEN = "canary-sample-token-2286"
CANARIES = [STATIC_TOKEN, BODY_PASSWORD, SAMPLE_TOKEN]


def endpoint_body(env_pk: int, **fields: Any) -> dict[str, Any]:
    return {
        "environment": env_pk,
        "name": "e",
        "slug": "e",
        "identifier_location": "none",
        **fields,
    }


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"X-Static-Token": STATIC_TOKEN}, "Header X-Static-Token looks like a credential"),
        ({"Authorization": f"Basic {STATIC_TOKEN}"}, "Header Authorization looks like"),
        ({"api-key": STATIC_TOKEN}, "Header api-key looks like a credential"),
        ({"Cookie": f"sid={STATIC_TOKEN}"}, "Header Cookie looks like a credential"),
    ],
)
def test_the_api_refuses_a_literal_credential_header(headers: dict, says: str) -> None:
    env = make_environment()
    response = client_as("engineer").post(
        "/api/v1/endpoints/", endpoint_body(env.pk, headers_template=headers), format="json"
    )
    assert response.status_code == 400
    message = str(error_of(response)["details"]["headers_template"])
    assert says in message and "API key" in message and "encrypted" in message
    assert STATIC_TOKEN not in response.content.decode()
    assert not Endpoint.objects.exists()


def test_the_api_refuses_a_literal_password_in_the_body_at_any_depth() -> None:
    env = make_environment()
    body = {"login": {"user": "bob", "password": BODY_PASSWORD}, "items": [{"pin": 1}]}
    response = client_as("engineer").post(
        "/api/v1/endpoints/", endpoint_body(env.pk, body_template=body), format="json"
    )
    assert response.status_code == 400
    message = str(error_of(response)["details"]["body_template"])
    assert "Field login.password looks like a credential" in message
    assert BODY_PASSWORD not in response.content.decode()


def test_placeholders_and_ordinary_fields_stay_allowed_next_to_the_refusal() -> None:
    env = make_environment()
    refused = client_as("engineer").post(
        "/api/v1/endpoints/",
        endpoint_body(env.pk, slug="x", body_template={"client_secret": BODY_PASSWORD}),
        format="json",
    )
    assert refused.status_code == 400
    fields = {
        "headers_template": {
            "X-Auth-Token": "{token}",
            "Authorization": "Bearer {token}",
            "X-Auth-Type": "basic",
            "Content-Type": "application/json",
        },
        "body_template": {"password": "{password}", "author": "bob", "auth_required": True},
    }
    response = client_as("engineer").post(
        "/api/v1/endpoints/", endpoint_body(env.pk, **fields), format="json"
    )
    assert response.status_code == 201, response.content


def test_the_admin_refuses_a_literal_credential_header(admin_client: Client) -> None:
    endpoint = make_endpoint(identifier_location="none")
    page = reverse("admin:integrations_endpoint_change", args=[endpoint.pk])
    headers = json.dumps({"X-Static-Token": STATIC_TOKEN})
    response = admin_post(admin_client, page, headers_template=headers)
    assert response.status_code == 200
    assert "Header X-Static-Token looks like a credential" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.headers_template == {"content-type": "application/json"}  # kept as it was


# --- rows saved before the rule ----------------------------------------------------


@pytest.fixture
def legacy(demo_endpoint: Endpoint) -> Endpoint:
    """The demo endpoint with literals in its templates, written past validation."""
    Endpoint.objects.filter(pk=demo_endpoint.pk).update(
        headers_template={"content-type": "application/json", "X-Static-Token": STATIC_TOKEN},
        body_template={"password": BODY_PASSWORD, "note": "{api_token}"},
        sample_variables={"api_token": SAMPLE_TOKEN},
    )
    demo_endpoint.refresh_from_db()
    return demo_endpoint


def test_a_stored_test_call_hides_template_literals_and_credential_variables(
    legacy: Endpoint, admin_user: User
) -> None:
    call = test_call_run(endpoint=legacy, test_user=None, actor=admin_user)
    call.refresh_from_db()  # what was stored, not what is in memory
    record = json.dumps([call.request, call.response, call.auth_steps, call.error_message])
    assert find_leaks([record, call.curl], CANARIES) == []
    assert ["X-Static-Token", "[REDACTED]"] in call.request["headers"]


def test_the_curl_export_reads_a_literal_header_from_its_own_variable(
    legacy: Endpoint, admin_user: User
) -> None:
    script = test_call_run(endpoint=legacy, test_user=None, actor=admin_user).curl
    assert find_leaks([script], CANARIES) == []
    assert '"X-Static-Token: ${HEADER_X_STATIC_TOKEN}"' in script
    assert "HEADER_X_STATIC_TOKEN first" in script.splitlines()[1]


def test_the_admin_test_call_page_hides_template_literals(
    legacy: Endpoint, admin_client: Client
) -> None:
    url = reverse("admin:integrations_endpoint_test_call", args=[legacy.pk])
    response = admin_client.post(url, {"test_user": legacy.default_test_user_id, "variables": "{}"})
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert "Copy as curl" in page and find_leaks([page], CANARIES) == []


def test_the_api_test_call_and_endpoint_responses_hide_template_literals(
    legacy: Endpoint, admin_user: User
) -> None:
    api = APIClient()
    api.force_login(admin_user)
    url = reverse("endpoint-test-calls", args=[legacy.pk])
    created = api.post(url, {"test_user": legacy.default_test_user_id}, format="json")
    assert created.status_code == 201, created.content
    listed = api.get("/api/v1/test-calls/")
    shown = api.get(f"/api/v1/endpoints/{legacy.pk}/")
    texts = [created.content.decode(), listed.content.decode(), shown.content.decode()]
    assert find_leaks(texts, CANARIES) == []
    assert shown.json()["sample_variables"] == {"api_token": "[REDACTED]"}
    assert TestCall.objects.count() == 1


def test_a_sample_variable_sent_back_redacted_keeps_its_stored_value(legacy: Endpoint) -> None:
    Endpoint.objects.filter(pk=legacy.pk).update(
        headers_template={"content-type": "application/json"}, body_template={"note": "{api_token}"}
    )
    api = client_as("admin")
    url = f"/api/v1/endpoints/{legacy.pk}/"
    shown = api.get(url).json()["sample_variables"]
    assert shown == {"api_token": "[REDACTED]"}
    response = api.patch(url, {"sample_variables": shown}, format="json")
    assert response.status_code == 200, response.content
    legacy.refresh_from_db()
    assert legacy.sample_variables == {"api_token": SAMPLE_TOKEN}
