"""Secrets shorter than 8 characters are refused wherever one is typed in."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from integrations.models import ApiKey, OAuthClient
from tests.factories import make_customer_auth, make_environment, make_oauth_client
from tests.integrations.api_world import client_as, error_of

pytestmark = pytest.mark.django_db

SHORT = "json"
TOO_SHORT = "at least 8 characters"


def test_the_api_refuses_a_short_secret_on_every_credential() -> None:
    env = make_environment()
    auth = make_customer_auth(environment=env)
    posts = {
        "oauth-clients": {"environment": env.pk, "client_id": "c", "client_secret": SHORT},
        "test-users": {"customer_auth": auth.pk, "label": "u", "username": "u", "password": SHORT},
        "api-keys": {"environment": env.pk, "name": "k", "value": SHORT},
        "customer-auths": {"environment": env.pk, "name": "a", "jwt_verification_key": SHORT},
    }
    api = client_as("engineer")
    for resource, body in posts.items():
        response = api.post(f"/api/v1/{resource}/", body, format="json")
        assert response.status_code == 400, resource
        details = error_of(response)["details"]
        (field,) = details
        assert field in body and TOO_SHORT in str(details[field]), resource
    assert not ApiKey.objects.exists() and not OAuthClient.objects.exists()


def test_the_api_refuses_to_change_a_secret_to_seven_characters_but_takes_eight() -> None:
    client = make_oauth_client(secret="client-secret-long")
    response = client_as("engineer").patch(
        f"/api/v1/oauth-clients/{client.pk}/", {"client_secret": "1234567"}, format="json"
    )
    assert response.status_code == 400
    assert TOO_SHORT in str(error_of(response)["details"]["client_secret"])
    client.refresh_from_db()
    assert client.client_secret is not None
    assert client.client_secret.reveal() == "client-secret-long"
    eight = client_as("engineer").patch(
        f"/api/v1/oauth-clients/{client.pk}/", {"client_secret": "8-chars!"}, format="json"
    )
    assert eight.status_code == 200, eight.content


def test_the_admin_refuses_a_short_api_key(admin_client: Client) -> None:
    env = make_environment()
    response = admin_client.post(
        reverse("admin:integrations_apikey_add"),
        {"environment": env.pk, "name": "k", "header_name": "api-key", "value": SHORT},
    )
    assert response.status_code == 200
    assert TOO_SHORT in response.content.decode()
    assert not ApiKey.objects.exists()


def test_model_validation_refuses_a_short_secret_with_a_typed_code() -> None:
    client = OAuthClient(environment=make_environment(), client_id="c", client_secret=SHORT)
    with pytest.raises(ValidationError) as caught:
        client.full_clean()
    assert caught.value.error_dict["client_secret"][0].code == "secret_too_short"
