"""API tokens: authentication, scope, expiry, revocation, and shown-once creation."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, TokenScope
from accounts.tokens import api_token_create, api_token_revoke
from integrations.models import AuditEvent
from tests.factories import make_customer, make_user
from tests.helpers import find_leaks, stored_texts

pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/v1/customers/"


def client_with(raw: str, keyword: str = "Token") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {raw}")
    return client


def error_code(response: Any) -> str:
    return response.json()["error"]["code"]


def test_a_valid_token_authenticates_as_its_user_with_token_or_bearer() -> None:
    user = make_user("viewer")
    token, raw = api_token_create(user=user, name="grafana", scope=TokenScope.READ)
    make_customer(name="Acme")
    for keyword in ("Token", "Bearer", "token"):
        response = client_with(raw, keyword).get(CUSTOMERS)
        assert response.status_code == 200, response.content
        assert response.json()["results"][0]["name"] == "Acme"
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_wrong_token_is_refused_with_a_clear_401() -> None:
    _, raw = api_token_create(user=make_user("admin"), name="t", scope=TokenScope.WRITE)
    tampered = raw[:-4] + ("aaaa" if not raw.endswith("aaaa") else "bbbb")
    for bad in (tampered, "pt_00000000_nope", "not-a-token"):
        response = client_with(bad).get(CUSTOMERS)
        assert response.status_code == 401
        assert error_code(response) == "token_invalid"
        assert response["WWW-Authenticate"].startswith("Token")


def test_an_expired_token_is_refused_and_says_it_expired() -> None:
    past = timezone.now() - timedelta(minutes=1)
    _, raw = api_token_create(user=make_user("admin"), name="t", scope="write", expires_at=past)
    response = client_with(raw).get(CUSTOMERS)
    assert response.status_code == 401 and error_code(response) == "token_expired"
    assert "expired" in response.json()["error"]["message"]


def test_a_revoked_token_is_refused_and_says_it_was_revoked() -> None:
    token, raw = api_token_create(user=make_user("admin"), name="t", scope=TokenScope.WRITE)
    assert client_with(raw).get(CUSTOMERS).status_code == 200
    assert api_token_revoke(token=token) is True
    response = client_with(raw).get(CUSTOMERS)
    assert response.status_code == 401 and error_code(response) == "token_revoked"


def test_a_token_of_an_inactive_user_is_refused() -> None:
    user = make_user("admin")
    _, raw = api_token_create(user=user, name="t", scope=TokenScope.WRITE)
    user.is_active = False
    user.save()
    response = client_with(raw).get(CUSTOMERS)
    assert response.status_code == 401 and error_code(response) == "user_inactive"


def test_a_read_scope_token_may_read_but_not_write_even_for_an_admin() -> None:
    _, raw = api_token_create(user=make_user("admin"), name="t", scope=TokenScope.READ)
    client = client_with(raw)
    assert client.get(CUSTOMERS).status_code == 200
    response = client.post(CUSTOMERS, {"name": "X", "slug": "x"}, format="json")
    assert response.status_code == 403 and error_code(response) == "token_read_only"
    assert "read scope" in response.json()["error"]["message"]


def test_a_write_scope_token_writes_as_its_users_role() -> None:
    _, engineer = api_token_create(user=make_user("engineer"), name="t", scope="write")
    _, viewer = api_token_create(user=make_user("viewer"), name="t", scope="write")
    body = {"name": "Acme", "slug": "acme"}
    assert client_with(engineer).post(CUSTOMERS, body, format="json").status_code == 201
    refused = client_with(viewer).post(CUSTOMERS, {**body, "slug": "b"}, format="json")
    assert refused.status_code == 403 and error_code(refused) == "permission_denied"


def test_only_a_hash_of_the_token_is_stored() -> None:
    token, raw = api_token_create(user=make_user("admin"), name="t", scope=TokenScope.READ)
    assert raw.startswith(f"pt_{token.prefix}_") and len(raw) > 40
    assert find_leaks((text for _, _, text in stored_texts()), [raw, raw[12:]]) == []


def test_the_command_prints_the_token_once_and_it_works() -> None:
    make_user("engineer", username="tool-owner")
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_token",
        "tool-owner",
        "--scope",
        "read",
        "--expires-days",
        "30",
        "--name",
        "grafana",
        stdout=out,
        stderr=err,
    )
    raw = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert raw.startswith(f"pt_{token.prefix}_") and token.name == "grafana"
    assert token.scope == TokenScope.READ and token.expires_at is not None
    assert "not shown again" in err.getvalue() and raw not in err.getvalue()
    assert client_with(raw).get(CUSTOMERS).status_code == 200
    assert find_leaks((text for _, _, text in stored_texts()), [raw]) == []
    assert AuditEvent.objects.filter(object_type="accounts.apitoken", action="create").exists()


def test_the_command_refuses_an_unknown_user_and_a_missing_scope() -> None:
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "ghost", "--scope", "read")
    make_user("viewer", username="someone")
    with pytest.raises(CommandError):
        call_command("create_api_token", "someone")


def test_the_revoke_command_revokes_by_prefix() -> None:
    token, raw = api_token_create(user=make_user("admin"), name="t", scope="write")
    out = io.StringIO()
    call_command("revoke_api_token", token.prefix, stdout=out)
    assert "Revoked" in out.getvalue()
    assert client_with(raw).get(CUSTOMERS).status_code == 401
    call_command("revoke_api_token", token.prefix, stdout=out)
    assert "already revoked" in out.getvalue()
    with pytest.raises(CommandError, match="No API token"):
        call_command("revoke_api_token", "ffffffff")


def test_the_admin_shows_a_new_token_once_and_never_again(admin_client: Client) -> None:
    owner = make_user("engineer")
    response = admin_client.post(
        reverse("admin:accounts_apitoken_add"),
        {"name": "ci", "user": owner.pk, "scope": "write", "expires_at_0": "", "expires_at_1": ""},
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get()
    page = response.content.decode()
    raw = page.split('id="api-token-plaintext"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert raw.startswith(f"pt_{token.prefix}_")
    assert (
        client_with(raw).post(CUSTOMERS, {"name": "A", "slug": "a"}, format="json").status_code
        == 201
    )
    for url in (
        reverse("admin:accounts_apitoken_changelist"),
        reverse("admin:accounts_apitoken_change", args=[token.pk]),
    ):
        assert raw not in admin_client.get(url).content.decode()
    assert find_leaks((text for _, _, text in stored_texts()), [raw]) == []


def test_the_admin_action_revokes_tokens(admin_client: Client) -> None:
    token, raw = api_token_create(user=make_user("admin"), name="t", scope="write")
    response = admin_client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client_with(raw).get(CUSTOMERS).status_code == 401
    event = AuditEvent.objects.get(object_type="accounts.apitoken", action="change")
    assert event.changed_fields == ["revoked_at"] and event.actor_label == "admin"
