"""Failed logins are counted per username and address; too many and that pair is refused."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from rest_framework.test import APIClient

from accounts.tokens import api_token_create
from integrations.models import AuditEvent
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests.factories.make_user's


@pytest.fixture(autouse=True)
def _three_failures(settings: Any) -> None:
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_FAILURE_WINDOW_S = 600


def admin_login(
    client: Client, username: str, password: str, ip: str = "127.0.0.1", **headers: Any
) -> Any:
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
        **headers,
    )


def logged_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def test_the_admin_login_refuses_even_the_right_password_after_too_many_failures() -> None:
    make_user("viewer", username="alice")
    client = Client()
    for _ in range(3):
        assert admin_login(client, "alice", "wrong").status_code == 200
    page = admin_login(client, "alice", PASSWORD)
    assert page.status_code == 200 and not logged_in(client)
    assert "Too many failed logins" in page.content.decode()
    assert "Try again in 10 minutes" in page.content.decode()
    admin_login(client, "alice", PASSWORD)
    # One audit event for the lock-out, not one per refused attempt; never the password.
    locked = AuditEvent.objects.filter(action="login_failed", detail__reason="locked_out")
    assert [(e.actor_label, e.detail["scope"], e.ip_address) for e in locked] == [
        ("alice", "pair", "127.0.0.1")
    ]
    assert PASSWORD not in str(locked.get().detail)


def test_the_throttle_is_per_username_and_per_address() -> None:
    make_user("viewer", username="alice")
    make_user("viewer", username="bob")
    for _ in range(3):
        admin_login(Client(), "alice", "wrong", ip="10.0.0.1")
    other_user = Client()
    assert admin_login(other_user, "bob", PASSWORD, ip="10.0.0.1").status_code == 302
    other_address = Client()
    assert admin_login(other_address, "alice", PASSWORD, ip="10.0.0.2").status_code == 302
    assert logged_in(other_user) and logged_in(other_address)


def test_a_successful_login_forgets_earlier_failures() -> None:
    make_user("viewer", username="alice")
    for _ in range(2):
        admin_login(Client(), "alice", "wrong")
    assert admin_login(Client(), "alice", PASSWORD).status_code == 302
    for _ in range(2):
        admin_login(Client(), "alice", "wrong")
    assert admin_login(Client(), "alice", PASSWORD).status_code == 302


def test_behind_a_trusted_proxy_failures_count_against_the_forwarded_client(
    settings: Any,
) -> None:
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.0/24"]
    make_user("viewer", username="alice")
    for _ in range(3):
        admin_login(Client(), "alice", "wrong", ip="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.1")
    # The same client through another of the proxies is still refused...
    same_client = Client()
    page = admin_login(
        same_client, "alice", PASSWORD, ip="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.1"
    )
    assert page.status_code == 200 and not logged_in(same_client)
    assert "Too many failed logins" in page.content.decode()
    # ...while another client behind the same proxy logs in.
    neighbour = Client()
    response = admin_login(
        neighbour, "alice", PASSWORD, ip="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.2"
    )
    assert response.status_code == 302 and logged_in(neighbour)


def test_the_refusal_ends_with_the_window(settings: Any) -> None:
    settings.LOGIN_FAILURE_WINDOW_S = 1
    make_user("viewer", username="alice")
    for _ in range(3):
        admin_login(Client(), "alice", "wrong")
    assert admin_login(Client(), "alice", PASSWORD).status_code == 200
    time.sleep(1.2)
    assert admin_login(Client(), "alice", PASSWORD).status_code == 302


def test_the_plain_login_page_is_throttled_too() -> None:
    make_user("viewer", username="carol", staff=False)
    for _ in range(3):
        Client().post("/accounts/login/", {"username": "carol", "password": "wrong"})
    client = Client()
    page = client.post("/accounts/login/", {"username": "carol", "password": PASSWORD})
    assert page.status_code == 200 and not logged_in(client)
    assert "Too many failed logins" in page.content.decode()


def test_api_token_guessing_is_refused_with_429_after_too_many_failures() -> None:
    token, raw = api_token_create(user=make_user("viewer"), name="t", scope="read")
    guesser = APIClient(REMOTE_ADDR="10.0.0.9")
    guesser.credentials(HTTP_AUTHORIZATION=f"Token pt_{token.prefix}_guess")
    for _ in range(3):
        assert guesser.get("/api/v1/customers/").status_code == 401
    guesser.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    refused = guesser.get("/api/v1/customers/")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert refused.json()["error"]["details"]["retry_after_s"] == 600
    assert refused["Retry-After"] == "600"
    elsewhere = APIClient(REMOTE_ADDR="10.0.0.10")
    elsewhere.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    assert elsewhere.get("/api/v1/customers/").status_code == 200
