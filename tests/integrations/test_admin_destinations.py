"""Admin: a save that changes where stored secrets go clears them, unless an admin keeps them."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import Environment, OAuthClient
from tests.factories import make_environment, make_user
from tests.integrations.destination_world import (
    ALL_STORED,
    NONE_STORED,
    Stocked,
    destination_events,
    stocked_environment,
)
from tests.integrations.test_admin import ENV_INLINES, management

pytestmark = pytest.mark.django_db


def environment_form(env: Environment, **changes: str) -> dict[str, Any]:
    data = {
        "customer": env.customer_id,
        "name": env.name,
        "slug": env.slug,
        "kind": env.kind,
        "base_url": env.base_url,
        "is_enabled": "on",
        "verify_tls": "on",
        "connect_timeout_ms": "3000",
        "deadline_ms": "10000",
        "latency_budget_ms": "1000",
        **changes,
    }
    for prefix in ENV_INLINES:
        data.update(management(prefix))
    return data


def oauth_client_form(client: OAuthClient, **changes: str) -> dict[str, Any]:
    return {
        "environment": client.environment_id,
        "name": client.name,
        "token_url": client.token_url,
        "client_id": client.client_id,
        "client_secret": "",
        "scope": "",
        "auth_style": "form_body",
        "access_token_field": "access_token",
        "token_type_field": "token_type",
        "expires_in_field": "expires_in",
        "issued_at_field": "issued_at",
        **changes,
    }


def save_environment(client: Client, stocked: Stocked, **changes: str) -> str:
    """Post the environment's change form; the page it lands on (messages included)."""
    url = reverse("admin:integrations_environment_change", args=[stocked.environment.pk])
    response = client.post(url, environment_form(stocked.environment, **changes), follow=True)
    assert response.redirect_chain, response.content.decode()[:3000]
    return response.content.decode()


@pytest.fixture
def engineer_client(client: Client) -> Client:
    client.force_login(make_user("engineer"))
    return client


def test_a_new_base_url_host_clears_the_environments_secrets_and_warns(
    engineer_client: Client,
) -> None:
    stocked = stocked_environment(base_url="https://api.example.com")
    page = save_environment(engineer_client, stocked, base_url="https://api.example.net/")

    assert stocked.secrets_stored() == NONE_STORED
    assert "stored secrets that went there were cleared" in page
    assert "https://api.example.com:443 → https://api.example.net:443" in page
    (event,) = destination_events()
    assert event.detail["via"] == "admin" and event.detail["action"] == "cleared"
    assert event.object_type == "integrations.environment"


def test_a_new_base_url_path_keeps_the_secrets_and_a_new_host_after_it_clears_them(
    engineer_client: Client,
) -> None:
    stocked = stocked_environment(base_url="https://api.example.com")
    page = save_environment(engineer_client, stocked, base_url="https://api.example.com/v2")

    assert stocked.secrets_stored() == ALL_STORED
    assert "cleared" not in page
    assert destination_events() == []

    save_environment(engineer_client, stocked, base_url="https://api.example.net/v2")
    assert stocked.secrets_stored() == NONE_STORED


def test_http_to_https_counts_as_a_new_destination(engineer_client: Client) -> None:
    stocked = stocked_environment(base_url="http://api.example.com")
    save_environment(engineer_client, stocked, base_url="https://api.example.com")

    assert stocked.secrets_stored() == NONE_STORED


def test_a_new_token_url_host_clears_only_that_clients_secret(engineer_client: Client) -> None:
    stocked = stocked_environment()
    url = reverse("admin:integrations_oauthclient_change", args=[stocked.oauth_client.pk])
    data = oauth_client_form(stocked.oauth_client, token_url="https://idp.example.net/token")
    response = engineer_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert stocked.secrets_stored() == {**ALL_STORED, "client_secret": False, "access_token": False}


def test_an_inline_base_url_change_on_the_customer_page_clears_the_secrets(
    engineer_client: Client,
) -> None:
    stocked = stocked_environment()
    env = stocked.environment
    data = {
        "name": env.customer.name,
        "slug": env.customer.slug,
        "notes": "",
        "is_active": "on",
        **management("environments", 1),
        "environments-INITIAL_FORMS": "1",
        "environments-0-id": str(env.pk),
        "environments-0-customer": str(env.customer_id),
        "environments-0-name": env.name,
        "environments-0-slug": env.slug,
        "environments-0-kind": env.kind,
        "environments-0-base_url": "https://api.example.net",
        "environments-0-is_enabled": "on",
        "environments-0-verify_tls": "on",
    }
    url = reverse("admin:integrations_customer_change", args=[env.customer_id])
    response = engineer_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert stocked.secrets_stored() == NONE_STORED


def test_an_inline_credential_saved_with_the_new_host_does_not_write_its_old_secret_back(
    engineer_client: Client,
) -> None:
    stocked = stocked_environment()
    key = stocked.api_key
    data = environment_form(stocked.environment, base_url="https://api.example.net")
    data.update(
        {
            **management("api_keys", 1),
            "api_keys-INITIAL_FORMS": "1",
            "api_keys-0-id": str(key.pk),
            "api_keys-0-environment": str(stocked.environment.pk),
            "api_keys-0-name": key.name,
            "api_keys-0-header_name": key.header_name,
            "api_keys-0-value": "",  # blank keeps the value the form loaded: the old one
            "api_keys-0-notes": "edited together with the host",
        }
    )
    url = reverse("admin:integrations_environment_change", args=[stocked.environment.pk])
    response = engineer_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    key.refresh_from_db()
    assert key.notes == "edited together with the host" and key.value is None


def test_an_api_key_moved_to_an_environment_on_another_host_loses_its_value(
    engineer_client: Client,
) -> None:
    stocked = stocked_environment()
    other = make_environment(base_url="https://other.example.net")
    key = stocked.api_key
    url = reverse("admin:integrations_apikey_change", args=[key.pk])
    data = {"environment": other.pk, "name": key.name, "header_name": key.header_name}
    response = engineer_client.post(url, {**data, "value": "", "notes": ""})

    assert response.status_code == 302, response.content.decode()[:3000]
    assert stocked.secrets_stored() == {**ALL_STORED, "value": False}


def test_an_admin_who_ticks_keep_keeps_the_secrets_and_it_is_audited(admin_client: Client) -> None:
    stocked = stocked_environment()
    url = reverse("admin:integrations_environment_change", args=[stocked.environment.pk])
    assert "Keep the stored secrets for the new host" in admin_client.get(url).content.decode()

    page = save_environment(
        admin_client, stocked, base_url="https://api.example.net", keep_secrets="on"
    )

    assert stocked.secrets_stored() == ALL_STORED
    assert "An admin kept the stored secrets" in page
    (event,) = destination_events()
    assert event.detail["action"] == "kept" and event.actor_label == "admin"


def test_an_engineer_neither_sees_nor_may_use_the_keep_checkbox(engineer_client: Client) -> None:
    stocked = stocked_environment()
    url = reverse("admin:integrations_environment_change", args=[stocked.environment.pk])
    assert "Keep the stored secrets" not in engineer_client.get(url).content.decode()

    data = environment_form(stocked.environment, base_url="https://api.example.net")
    response = engineer_client.post(url, {**data, "keep_secrets": "on"})

    assert response.status_code == 200  # the form again, with the refusal
    assert "Only an admin can keep the stored secrets" in response.content.decode()
    stocked.refresh()
    assert stocked.environment.base_url == "https://api.example.com"
    assert stocked.secrets_stored() == ALL_STORED
