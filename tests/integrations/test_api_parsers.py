"""JSON bodies nested past JSON_MAX_DEPTH are a 400 json_too_deep, through the test
client and over a real socket, and nothing of them is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from accounts.tokens import api_token_create
from integrations.json_limits import JSON_MAX_DEPTH
from integrations.models import Customer, Endpoint
from tests.factories import make_environment, make_user
from tests.integrations.api_world import client_as, error_of


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def assert_too_deep(status: int, body: dict[str, Any]) -> None:
    assert status == 400, body
    assert body["error"]["code"] == "json_too_deep"
    assert str(JSON_MAX_DEPTH) in body["error"]["message"]
    assert body["error"]["details"] == {"max_depth": JSON_MAX_DEPTH}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    ["[" * 100_000, "[" * 5_000 + "]" * 5_000, '{"a":' * 900 + "1" + "}" * 900],
    ids=["100k-open-brackets", "5k-closed-brackets", "900-objects"],
)
def test_a_body_nested_past_the_limit_is_json_too_deep(body: str) -> None:
    response = client_as("engineer").post(
        "/api/v1/customers/", data=body, content_type="application/json"
    )
    error_of(response)
    assert_too_deep(response.status_code, response.json())
    assert not Customer.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["body_template", "sample_variables", "headers_template"])
def test_a_json_field_nested_too_deep_inside_a_valid_body_is_refused(field: str) -> None:
    env = make_environment()
    body = {"environment": env.pk, "name": "e", "slug": "e", "identifier_location": "none"}
    body[field] = {"a": nested(JSON_MAX_DEPTH)}
    response = client_as("engineer").post("/api/v1/endpoints/", body, format="json")
    assert_too_deep(response.status_code, response.json())
    assert not Endpoint.objects.exists()


@pytest.mark.django_db
def test_the_limit_is_exactly_json_max_depth_levels() -> None:
    env = make_environment()
    client = client_as("engineer")
    body = {"environment": env.pk, "name": "e", "slug": "e", "identifier_location": "none"}
    # A key the serializer ignores: stored templates have their own, tighter depth limit.
    deepest = {**body, "unused": nested(JSON_MAX_DEPTH - 1)}  # the body is one level
    response = client.post("/api/v1/endpoints/", deepest, format="json")
    assert response.status_code == 201, response.content
    one_more = {**body, "slug": "f", "unused": nested(JSON_MAX_DEPTH)}
    assert_too_deep(*_sent(client, one_more))
    assert Endpoint.objects.count() == 1


def _sent(client: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post("/api/v1/endpoints/", body, format="json")
    return response.status_code, response.json()


@pytest.mark.django_db(transaction=True)
def test_deep_json_over_a_real_socket_is_json_too_deep(live_server: Any) -> None:
    _, raw = api_token_create(user=make_user("engineer"), name="socket", scope="write")
    response = requests.post(
        f"{live_server.url}/api/v1/customers/",
        data="[" * 100_000,
        headers={"Authorization": f"Token {raw}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert_too_deep(response.status_code, response.json())
    assert not Customer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_deep_endpoint_template_over_a_real_socket_is_not_stored(live_server: Any) -> None:
    env = make_environment()
    _, raw = api_token_create(user=make_user("engineer"), name="socket", scope="write")
    body = {"environment": env.pk, "name": "e", "slug": "e", "body_template": nested(900)}
    response = requests.post(
        f"{live_server.url}/api/v1/endpoints/",
        data=json.dumps(body),
        headers={"Authorization": f"Token {raw}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert_too_deep(response.status_code, response.json())
    assert not Endpoint.objects.exists()
