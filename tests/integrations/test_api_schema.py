"""The OpenAPI schema: valid, every operation described, typed errors, Swagger UI self-hosted."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from drf_spectacular.validation import validate_schema

from tests.factories import make_user
from tests.integrations.api_world import client_as

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema() -> dict[str, Any]:
    response = client_as("viewer").get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_schema_is_valid_openapi_3(schema: dict[str, Any]) -> None:
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert {"apiToken", "cookieAuth"} <= set(schema["components"]["securitySchemes"])


def test_it_covers_every_resource_and_action(schema: dict[str, Any]) -> None:
    paths = set(schema["paths"])
    for resource in (
        "customers",
        "environments",
        "oauth-clients",
        "customer-auths",
        "test-users",
        "api-keys",
        "endpoints",
        "test-calls",
        "probe-results",
        "endpoint-health",
        "health-transitions",
        "audit-events",
    ):
        assert f"/api/v1/{resource}/" in paths
    for action in (
        "/api/v1/endpoints/{id}/test-calls/",
        "/api/v1/endpoints/{id}/probe/",
        "/api/v1/oauth-clients/{id}/refresh/",
        "/api/v1/test-users/{id}/refresh/",
    ):
        assert "post" in schema["paths"][action]


def test_every_operation_has_a_description(schema: dict[str, Any]) -> None:
    undescribed = [
        f"{m.upper()} {p}" for p, m, op in operations(schema) if not op.get("description")
    ]
    assert undescribed == []


def test_every_operation_documents_its_errors_in_the_one_error_shape(
    schema: dict[str, Any],
) -> None:
    error_ref = "#/components/schemas/Error"
    for path, method, operation in operations(schema):
        for code in ("400", "401", "403", "404", "429"):
            response = operation["responses"].get(code)
            assert response, f"{method.upper()} {path} does not document {code}"
            assert response["content"]["application/json"]["schema"]["$ref"] == error_ref
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    body = schema["components"]["schemas"]["ErrorBody"]
    assert set(body["properties"]) == {"code", "message", "details"}


def test_secret_fields_are_write_only_in_the_schema(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    for name, secret in (
        ("OAuthClient", "client_secret"),
        ("TestUser", "password"),
        ("ApiKey", "value"),
        ("CustomerAuth", "jwt_verification_key"),
    ):
        assert secret not in components[name]["properties"]
        assert {f"{secret}_set", f"{secret}_fingerprint"} <= set(components[name]["properties"])
        assert secret in components[f"{name}Request"]["properties"]


def test_swagger_ui_is_served_from_our_own_static_files() -> None:
    browser = Client()
    browser.force_login(make_user("viewer"))
    page = browser.get("/api/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in s for s in sources)
    assert [s for s in sources if s.startswith(("http:", "https:", "//"))] == []
    # No third-party host anywhere in the page, scripts included (a random nonce may spell "cdn").
    assert re.findall(r"cdn\.jsdelivr|unpkg\.com|cdnjs|https?://(?!testserver)", page) == []
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")


def test_anonymous_visitors_of_the_docs_go_to_the_login_page() -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Client().get(response["Location"]).status_code == 200
