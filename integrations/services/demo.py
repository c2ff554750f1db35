"""Demo data: an admin login and a customer whose UAT environment is the bundled sandbox."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from integrations.models import (
    ApiKey,
    Customer,
    CustomerAuth,
    Endpoint,
    Environment,
    OAuthClient,
    TestUser,
)
from integrations.services.destinations import destination_change_settle, destinations_snapshot

# The sandbox's documented demo credentials (sandbox/config.py defaults).
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-client-secret"
DEMO_API_KEY = "demo-api-key"
DEMO_USERS = {"alice": "alice-password", "bob": "bob-password"}


@dataclass
class DemoLogin:
    username: str
    password: str
    created: bool


def _demo_password() -> str:
    path = Path(settings.VAR_DIR) / "demo_admin_password"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.write_text(password)
    path.chmod(0o600)
    return password


def demo_admin_ensure() -> DemoLogin:
    """Create the demo superuser once; its password is kept in var/ so it can be shown again."""
    username = settings.DEMO_ADMIN_USERNAME
    password = _demo_password()
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        return DemoLogin(username=username, password=password, created=False)
    user_model.objects.create_superuser(username=username, email="", password=password)
    return DemoLogin(username=username, password=password, created=True)


@transaction.atomic
def demo_customer_ensure(*, sandbox_url: str) -> Customer:
    """The demo customer, with every credential and the guide's getprofile endpoint."""
    customer, _ = Customer.objects.get_or_create(slug="demo-bank", defaults={"name": "Demo Bank"})
    env = _demo_environment(customer, sandbox_url)
    client, _ = OAuthClient.objects.get_or_create(
        environment=env, name="default", defaults={"client_id": DEMO_CLIENT_ID}
    )
    # Set when new, or when a move of the sandbox cleared them: they are the sandbox's own.
    if client.client_secret is None:
        client.client_secret = DEMO_CLIENT_SECRET
        client.save()
    auth, _ = CustomerAuth.objects.get_or_create(environment=env, name="default")
    users = [_demo_test_user(auth, label, password) for label, password in DEMO_USERS.items()]
    key, _ = ApiKey.objects.get_or_create(environment=env, name="default")
    if key.value is None:
        key.value = DEMO_API_KEY
        key.save()
    Endpoint.objects.get_or_create(
        environment=env,
        slug="getprofile",
        defaults={
            "name": "Get profile",
            "headers_template": {"content-type": "application/json"},
            "body_template": {},
            "oauth_client": client,
            "customer_auth": auth,
            "api_key": key,
            "default_test_user": users[0],
        },
    )
    return customer


def _demo_environment(customer: Customer, sandbox_url: str) -> Environment:
    """The UAT environment at ``sandbox_url``; a new sandbox host clears the old secrets."""
    env, created = Environment.objects.get_or_create(
        customer=customer, slug="uat", defaults={"name": "UAT", "base_url": sandbox_url}
    )
    if created or env.base_url == sandbox_url:
        return env
    before = destinations_snapshot(obj=env)
    env.base_url = sandbox_url
    env.save()
    destination_change_settle(
        obj=env, before=before, keep_secrets=False, actor=None, via="seed_demo"
    )
    return env


def _demo_test_user(auth: CustomerAuth, label: str, password: str) -> TestUser:
    user, _ = TestUser.objects.get_or_create(
        customer_auth=auth, label=label, defaults={"username": label}
    )
    if user.password is None:
        user.password = password
        user.save()
    return user
