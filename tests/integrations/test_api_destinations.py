"""API: an update that changes where stored secrets go clears them, unless an admin keeps them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import find_leaks
from tests.integrations.api_world import client_as, error_of
from tests.integrations.destination_world import (
    ALL_STORED,
    CANARIES,
    NONE_STORED,
    destination_events,
    stocked_environment,
)

pytestmark = pytest.mark.django_db


def patch(role: str, resource: str, pk: int, body: dict[str, Any]) -> Any:
    return client_as(role).patch(f"/api/v1/{resource}/{pk}/", body, format="json")


def test_a_new_base_url_host_clears_every_secret_of_the_environment_and_says_so() -> None:
    stocked = stocked_environment(base_url="https://api.example.com")
    response = patch(
        "engineer", "environments", stocked.environment.pk, {"base_url": "https://api.example.net"}
    )

    assert response.status_code == 200, response.content
    change = response.json()["destination_change"]
    assert change["action"] == "cleared"
    assert change["changes"] == [
        {"old_origin": "https://api.example.com:443", "new_origin": "https://api.example.net:443"}
    ]
    assert len(change["secrets"]) == 5 and "Enter them again" in change["message"]
    assert stocked.secrets_stored() == NONE_STORED
    (event,) = destination_events()
    assert event.actor_label.startswith("engineer") and event.detail["via"] == "api"
    assert event.detail["changes"] == change["changes"]
    assert event.changed_fields == ["client_secret", "password", "token", "value"]
    texts = [response.content.decode(), json.dumps(event.detail), str(event.__dict__)]
    assert find_leaks(texts, CANARIES.values()) == []


def test_a_new_base_url_path_keeps_the_secrets() -> None:
    stocked = stocked_environment(base_url="https://api.example.com")
    response = patch(
        "engineer",
        "environments",
        stocked.environment.pk,
        {"base_url": "https://API.example.com:443/v2"},
    )

    assert response.status_code == 200, response.content
    assert response.json()["destination_change"] is None
    assert stocked.secrets_stored() == ALL_STORED
    assert destination_events() == []


def test_http_to_https_on_the_same_host_counts_as_a_new_destination() -> None:
    stocked = stocked_environment(base_url="http://api.example.com")
    response = patch(
        "engineer", "environments", stocked.environment.pk, {"base_url": "https://api.example.com"}
    )

    assert response.status_code == 200, response.content
    assert response.json()["destination_change"]["changes"] == [
        {"old_origin": "http://api.example.com:80", "new_origin": "https://api.example.com:443"}
    ]
    assert stocked.secrets_stored() == NONE_STORED


def test_a_put_with_a_new_host_clears_the_secrets_too() -> None:
    stocked = stocked_environment()
    api = client_as("engineer")
    url = f"/api/v1/environments/{stocked.environment.pk}/"
    body = api.get(url).json()
    body["base_url"] = "https://elsewhere.example.org"

    response = api.put(url, body, format="json")

    assert response.status_code == 200, response.content
    assert stocked.secrets_stored() == NONE_STORED


def test_a_new_token_url_host_clears_only_that_clients_secret_and_token() -> None:
    stocked = stocked_environment()
    response = patch(
        "engineer",
        "oauth-clients",
        stocked.oauth_client.pk,
        {"token_url": "https://idp.example.net/oauth/token"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["client_secret_set"] is False and body["token"] is None
    assert body["destination_change"]["changes"] == [
        {"old_origin": "https://api.example.com:443", "new_origin": "https://idp.example.net:443"}
    ]
    stored = stocked.secrets_stored()
    assert stored == {**ALL_STORED, "client_secret": False, "access_token": False}


def test_a_new_token_url_sent_with_a_new_secret_keeps_the_new_secret() -> None:
    stocked = stocked_environment()
    response = patch(
        "engineer",
        "oauth-clients",
        stocked.oauth_client.pk,
        {"token_url": "https://idp.example.net/oauth/token", "client_secret": "new-idp-secret"},
    )

    assert response.status_code == 200, response.content
    stocked.refresh()
    secret = stocked.oauth_client.client_secret
    assert secret is not None and secret.reveal() == "new-idp-secret"
    assert stocked.secrets_stored()["access_token"] is False  # issued by the old token URL
    assert response.json()["destination_change"]["secrets"] == [
        f"OAuth client {stocked.oauth_client.client_id}: cached access token"
    ]


def test_a_new_authenticate_url_host_clears_the_test_users_passwords_and_sessions() -> None:
    stocked = stocked_environment()
    response = patch(
        "engineer",
        "customer-auths",
        stocked.test_user.customer_auth_id,
        {"authenticate_url": "https://login.example.net/auth"},
    )

    assert response.status_code == 200, response.content
    assert stocked.secrets_stored() == {**ALL_STORED, "password": False, "session": False}


def test_an_admin_may_keep_the_secrets_for_the_new_host_and_it_is_audited() -> None:
    stocked = stocked_environment()
    response = patch(
        "admin",
        "environments",
        stocked.environment.pk,
        {"base_url": "https://api.example.net", "keep_secrets": True},
    )

    assert response.status_code == 200, response.content
    assert response.json()["destination_change"]["action"] == "kept"
    assert stocked.secrets_stored() == ALL_STORED
    (event,) = destination_events()
    assert event.detail["action"] == "kept" and len(event.detail["secrets"]) == 5
    assert event.actor_label.startswith("admin")


def test_an_engineer_asking_to_keep_the_secrets_is_refused_and_nothing_changes() -> None:
    stocked = stocked_environment()
    response = patch(
        "engineer",
        "environments",
        stocked.environment.pk,
        {"base_url": "https://api.example.net", "keep_secrets": True},
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "keep_secrets_refused"
    stocked.refresh()
    assert stocked.environment.base_url == "https://api.example.com"
    assert stocked.secrets_stored() == ALL_STORED
    assert destination_events() == []
