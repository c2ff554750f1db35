"""Secrets written through the API never come back: not in any response, nor stored in clear."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from integrations.models import ApiKey, OAuthClient
from tests.factories import make_customer_auth, make_environment
from tests.helpers import find_leaks, stored_texts
from tests.integrations.api_world import client_as, error_of

pytestmark = pytest.mark.django_db

CANARIES = {
    "client_secret": "canary-client-secret-5a1f",
    "password": "canary-password-77b2",
    "value": "canary-api-key-c3d9",
    "jwt_verification_key": "canary-jwt-hmac-key-e81b",
}


def _write_every_secret(api: Any) -> dict[str, str]:
    """Create one credential per secret field through the API; their detail URLs."""
    env = make_environment()
    auth = make_customer_auth(environment=env)
    posts = {
        "oauth-clients": {
            "environment": env.pk,
            "client_id": "c",
            "name": "c",
            "client_secret": CANARIES["client_secret"],
        },
        "test-users": {
            "customer_auth": auth.pk,
            "label": "u",
            "username": "alice",
            "password": CANARIES["password"],
        },
        "api-keys": {"environment": env.pk, "name": "k", "value": CANARIES["value"]},
        "customer-auths": {
            "environment": env.pk,
            "name": "a",
            "jwt_verification_key": CANARIES["jwt_verification_key"],
        },
    }
    urls = {}
    for resource, body in posts.items():
        created = api.post(f"/api/v1/{resource}/", body, format="json")
        assert created.status_code == 201, created.content
        urls[resource] = f"/api/v1/{resource}/{created.json()['id']}/"
    return urls


def test_secrets_are_write_only_everywhere() -> None:
    api = client_as("admin")
    urls = _write_every_secret(api)
    texts = [json.dumps(api.get(url).json()) for url in urls.values()]
    texts += [json.dumps(api.get(url.rsplit("/", 2)[0] + "/").json()) for url in urls.values()]
    texts.append(api.get("/api/schema/").content.decode())
    texts.append(json.dumps(api.get("/api/v1/audit-events/?page_size=500").json()))
    assert find_leaks(texts, CANARIES.values()) == []
    assert find_leaks((text for _, _, text in stored_texts()), CANARIES.values()) == []


def test_the_browsable_api_pages_do_not_show_secrets_either() -> None:
    api = client_as("engineer")
    urls = _write_every_secret(api)
    pages = []
    for url in urls.values():
        for page_url in (url, url.rsplit("/", 2)[0] + "/"):
            page = api.get(page_url, HTTP_ACCEPT="text/html")
            assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
            pages.append(page.content.decode())
    assert find_leaks(pages, CANARIES.values()) == []


def test_reads_say_whether_a_secret_is_set_with_a_fingerprint() -> None:
    api = client_as("engineer")
    urls = _write_every_secret(api)
    key = api.get(urls["api-keys"]).json()
    assert key["value_set"] is True and re.fullmatch(r"[0-9a-f]{8}", key["value_fingerprint"])
    assert "value" not in key
    auth = api.get(urls["customer-auths"]).json()
    assert auth["jwt_verification_key_set"] is True
    bare = api.post(
        "/api/v1/customer-auths/", {"environment": make_environment().pk}, format="json"
    ).json()
    assert (
        bare["jwt_verification_key_set"] is False
        and bare["jwt_verification_key_fingerprint"] is None
    )


def test_changing_a_secret_changes_its_fingerprint_and_leaving_it_out_keeps_it() -> None:
    api = client_as("engineer")
    urls = _write_every_secret(api)
    url = urls["oauth-clients"]
    before = api.get(url).json()["client_secret_fingerprint"]
    kept = api.patch(url, {"scope": "read"}, format="json").json()
    assert kept["client_secret_fingerprint"] == before
    assert OAuthClient.objects.get().client_secret.reveal() == CANARIES["client_secret"]
    changed = api.patch(url, {"client_secret": "rotated-secret-0000"}, format="json").json()
    assert changed["client_secret_fingerprint"] != before
    assert OAuthClient.objects.get().client_secret.reveal() == "rotated-secret-0000"
    events = api.get("/api/v1/audit-events/?action=change").json()["results"]
    assert events[0]["changed_fields"] == ["client_secret"]
    assert "rotated-secret-0000" not in json.dumps(events)


def test_a_credential_needs_its_secret_when_created() -> None:
    env = make_environment()
    response = client_as("engineer").post(
        "/api/v1/api-keys/", {"environment": env.pk, "name": "k"}, format="json"
    )
    assert response.status_code == 400
    assert list(error_of(response)["details"]) == ["value"]
    assert not ApiKey.objects.exists()


def test_every_secret_the_api_can_write_is_declared_write_only_and_tested_here() -> None:
    from integrations.admin_forms import secret_field_names
    from integrations.api.urls import router

    for _, viewset, _ in router.registry:
        model = viewset.queryset.model
        declared = set(getattr(viewset.serializer_class, "secret_fields", ()))
        assert set(secret_field_names(model)) == declared, model
        assert declared <= set(CANARIES), model
