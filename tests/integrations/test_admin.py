"""Admin: write-only secrets, no leaks anywhere, and an audit event for every change."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from integrations.models import ApiKey, AuditEvent, Customer, Environment, OAuthClient, TestUser
from tests.factories import make_customer_auth, make_environment, make_oauth_client
from tests.helpers import find_leaks, stored_texts

pytestmark = pytest.mark.django_db

ENV_INLINES = ("oauth_clients", "customer_auths", "api_keys", "endpoints")


def management(prefix: str, total: int = 0) -> dict[str, Any]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def post_ok(client: Client, url: str, data: dict[str, Any]) -> None:
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]


def add_oauth_client(client: Client, env: Environment, secret: str, n: int) -> None:
    post_ok(
        client,
        reverse("admin:integrations_oauthclient_add"),
        {
            "environment": env.pk,
            "name": f"c{n}",
            "token_url": "/oauth/access_token",
            "client_id": f"client-{n}",
            "client_secret": secret,
            "scope": "",
            "auth_style": "form_body",
            "access_token_field": "access_token",
            "token_type_field": "token_type",
            "expires_in_field": "expires_in",
            "issued_at_field": "issued_at",
        },
    )


def add_test_user(client: Client, auth_pk: int, secret: str, n: int) -> None:
    post_ok(
        client,
        reverse("admin:integrations_testuser_add"),
        {
            "customer_auth": auth_pk,
            "label": f"user{n}",
            "username": f"user{n}",
            "password": secret,
            "is_active": "on",
        },
    )


def add_api_key(client: Client, env: Environment, secret: str, n: int) -> None:
    post_ok(
        client,
        reverse("admin:integrations_apikey_add"),
        {
            "environment": env.pk,
            "name": f"k{n}",
            "header_name": "api-key",
            "value": secret,
            "notes": "",
        },
    )


def admin_pages() -> list[str]:
    urls = [
        reverse(f"admin:integrations_{m}_changelist")
        for m in ("oauthclient", "testuser", "apikey", "environment", "auditevent")
    ]
    urls += [
        reverse("admin:integrations_oauthclient_change", args=[o.pk])
        for o in OAuthClient.objects.all()
    ]
    urls += [
        reverse("admin:integrations_testuser_change", args=[o.pk]) for o in TestUser.objects.all()
    ]
    urls += [reverse("admin:integrations_apikey_change", args=[o.pk]) for o in ApiKey.objects.all()]
    urls += [
        reverse("admin:integrations_environment_change", args=[e.pk])
        for e in Environment.objects.all()
    ]
    urls += [
        reverse("admin:integrations_customerauth_change", args=[a.pk])
        for a in make_customer_auth.__globals__["CustomerAuth"].objects.all()
    ]
    return urls


def test_fifty_canary_secrets_saved_through_the_admin_never_appear_in_plain_text(
    admin_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = make_environment()
    auth = make_customer_auth(environment=env)
    canaries = [f"canary-{n:02d}-Zq8xW{n * 7919}" for n in range(50)]
    for n, canary in enumerate(canaries):
        adder = (add_oauth_client, add_api_key)[n % 2] if n % 3 else None
        if adder is None:
            add_test_user(admin_client, auth.pk, canary, n)
        else:
            adder(admin_client, env, canary, n)

    assert OAuthClient.objects.count() + TestUser.objects.count() + ApiKey.objects.count() == 50
    assert find_leaks((value for _, _, value in stored_texts()), canaries) == []
    pages = [admin_client.get(url) for url in admin_pages()]
    assert all(page.status_code == 200 for page in pages)
    assert find_leaks((page.content.decode() for page in pages), canaries) == []
    assert find_leaks((record.getMessage() for record in caplog.records), canaries) == []
    assert find_leaks([caplog.text], canaries) == []


def test_the_change_page_shows_set_and_a_fingerprint_never_the_value(admin_client: Client) -> None:
    client = make_oauth_client(secret="shown-only-as-fingerprint")
    page = admin_client.get(reverse("admin:integrations_oauthclient_change", args=[client.pk]))
    html = page.content.decode()
    assert "shown-only-as-fingerprint" not in html
    assert f"set · fingerprint {client.client_secret.fingerprint()}" in html


def test_a_blank_secret_input_keeps_the_stored_value(admin_client: Client) -> None:
    client = make_oauth_client(secret="keep-this-secret", client_id="old-id")
    post_ok(
        admin_client,
        reverse("admin:integrations_oauthclient_change", args=[client.pk]),
        {
            "environment": client.environment_id,
            "name": client.name,
            "token_url": client.token_url,
            "client_id": "new-id",
            "client_secret": "",
            "scope": "",
            "auth_style": "http_basic",
            "access_token_field": "access_token",
            "token_type_field": "token_type",
            "expires_in_field": "expires_in",
            "issued_at_field": "issued_at",
        },
    )
    client.refresh_from_db()
    assert client.client_id == "new-id"
    assert client.client_secret.reveal() == "keep-this-secret"


def test_a_new_credential_without_its_secret_is_refused(admin_client: Client) -> None:
    env = make_environment()
    response = admin_client.post(
        reverse("admin:integrations_apikey_add"),
        {
            "environment": env.pk,
            "name": "k",
            "header_name": "api-key",
            "value": "",
            "notes": "",
        },
    )
    assert response.status_code == 200
    assert "This secret is required." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_create_change_and_delete_each_write_an_audit_event_naming_the_user(
    admin_client: Client, admin_user: User
) -> None:
    env = make_environment()
    add_api_key(admin_client, env, "audit-canary-value", 1)
    key = ApiKey.objects.get()
    post_ok(
        admin_client,
        reverse("admin:integrations_apikey_change", args=[key.pk]),
        {
            "environment": env.pk,
            "name": "renamed",
            "header_name": "x-api-key",
            "value": "",
            "notes": "rotated soon",
        },
    )
    post_ok(
        admin_client, reverse("admin:integrations_apikey_delete", args=[key.pk]), {"post": "yes"}
    )

    events = list(AuditEvent.objects.filter(object_type="integrations.apikey").order_by("id"))
    assert [e.action for e in events] == ["create", "change", "delete"]
    assert all(e.actor == admin_user and e.actor_label == admin_user.username for e in events)
    assert events[1].changed_fields == ["header_name", "name", "notes"]
    assert find_leaks([str(e.__dict__) for e in events], ["audit-canary-value"]) == []


def test_inline_environments_added_on_the_customer_page_are_audited(
    admin_client: Client,
) -> None:
    data = {
        "name": "Acme",
        "slug": "acme",
        "notes": "",
        "is_active": "on",
        **management("environments", 1),
        "environments-0-name": "UAT",
        "environments-0-slug": "uat",
        "environments-0-kind": "uat",
        "environments-0-base_url": "https://uat.acme.example",
        "environments-0-is_enabled": "on",
        "environments-0-verify_tls": "on",
    }
    post_ok(admin_client, reverse("admin:integrations_customer_add"), data)
    customer = Customer.objects.get(slug="acme")
    assert customer.environments.get().base_url == "https://uat.acme.example"
    actions = set(AuditEvent.objects.values_list("object_type", "action"))
    assert {("integrations.customer", "create"), ("integrations.environment", "create")} <= actions


def test_the_environment_page_configures_credentials_and_endpoints_inline(
    admin_client: Client,
) -> None:
    env = make_environment()
    data = {
        "customer": env.customer_id,
        "name": env.name,
        "slug": env.slug,
        "kind": "uat",
        "base_url": env.base_url,
        "is_enabled": "on",
        "verify_tls": "on",
        "connect_timeout_ms": "3000",
        "deadline_ms": "10000",
        "latency_budget_ms": "1000",
    }
    for prefix in ENV_INLINES:
        data.update(management(prefix, 1 if prefix in ("oauth_clients", "api_keys") else 0))
    data.update(
        {
            "oauth_clients-0-name": "default",
            "oauth_clients-0-token_url": "/oauth/t",
            "oauth_clients-0-client_id": "cid",
            "oauth_clients-0-client_secret": "inline-s",
            "oauth_clients-0-auth_style": "form_body",
            "oauth_clients-0-access_token_field": "access_token",
            "oauth_clients-0-token_type_field": "token_type",
            "oauth_clients-0-expires_in_field": "expires_in",
            "oauth_clients-0-issued_at_field": "issued_at",
            "api_keys-0-name": "default",
            "api_keys-0-header_name": "api-key",
            "api_keys-0-value": "inline-key",
        }
    )
    post_ok(admin_client, reverse("admin:integrations_environment_change", args=[env.pk]), data)
    assert env.oauth_clients.get().client_secret.reveal() == "inline-s"
    assert env.api_keys.get().value.reveal() == "inline-key"


def test_logins_are_audited_without_the_password(client: Client, admin_user: User) -> None:
    client.post(reverse("admin:login"), {"username": "admin", "password": "wrong-canary-pw"})
    client.post(reverse("admin:login"), {"username": "admin", "password": "password"})
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_label"))
    assert actions == [("login_failed", "admin"), ("login", "admin")]
    assert find_leaks((v for _, _, v in stored_texts()), ["wrong-canary-pw"]) == []


def test_the_token_cache_page_shows_refresh_times_and_expiry_never_the_token(
    admin_client: Client,
) -> None:
    from datetime import timedelta

    from integrations import clock
    from integrations.models import AccessToken

    client = make_oauth_client()
    now = clock.now()
    AccessToken.objects.create(
        oauth_client=client,
        token="canary-cached-token",
        issued_at=now,
        fetched_at=now,
        expires_at=now + timedelta(seconds=3600),
        next_refresh_at=now + timedelta(seconds=3540),
        consecutive_failures=3,
    )
    page = admin_client.get(reverse("admin:integrations_accesstoken_changelist")).content.decode()
    assert "seconds to expiry" in page.lower()
    assert ">3599<" in page or ">3600<" in page
    assert "canary-cached-token" not in page
    assert 'alt="True"' in page  # three failures in a row: shown as failing
