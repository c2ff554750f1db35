"""Small builders for model rows used across tests."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth.models import Group, User

from integrations.models import (
    ApiKey,
    Customer,
    CustomerAuth,
    Endpoint,
    Environment,
    OAuthClient,
    TestUser,
)

_seq = itertools.count(1)


def make_customer(**fields: Any) -> Customer:
    n = next(_seq)
    fields.setdefault("name", f"Customer {n}")
    fields.setdefault("slug", f"customer-{n}")
    return Customer.objects.create(**fields)


def make_environment(*, base_url: str = "https://api.example.com", **fields: Any) -> Environment:
    n = next(_seq)
    fields.setdefault("customer", make_customer())
    fields.setdefault("name", f"UAT {n}")
    fields.setdefault("slug", f"uat-{n}")
    return Environment.objects.create(base_url=base_url, **fields)


def make_oauth_client(*, secret: str = "client-secret", **fields: Any) -> OAuthClient:
    fields.setdefault("environment", make_environment())
    fields.setdefault("name", f"client-{next(_seq)}")
    fields.setdefault("client_id", "demo-client")
    return OAuthClient.objects.create(client_secret=secret, **fields)


def make_customer_auth(**fields: Any) -> CustomerAuth:
    fields.setdefault("environment", make_environment())
    fields.setdefault("name", f"auth-{next(_seq)}")
    return CustomerAuth.objects.create(**fields)


def make_test_user(*, password: str = "alice-password", **fields: Any) -> TestUser:
    fields.setdefault("customer_auth", make_customer_auth())
    fields.setdefault("label", f"user-{next(_seq)}")
    fields.setdefault("username", "alice")
    return TestUser.objects.create(password=password, **fields)


def make_api_key(*, value: str = "demo-api-key", **fields: Any) -> ApiKey:
    fields.setdefault("environment", make_environment())
    fields.setdefault("name", f"key-{next(_seq)}")
    return ApiKey.objects.create(value=value, **fields)


def make_endpoint(**fields: Any) -> Endpoint:
    n = next(_seq)
    fields.setdefault("environment", make_environment())
    fields.setdefault("name", f"Endpoint {n}")
    fields.setdefault("slug", f"endpoint-{n}")
    return Endpoint.objects.create(**fields)


def make_user(role: str | None = None, *, staff: bool = True, **fields: Any) -> User:
    """A user in the role's group (viewer, engineer, admin), or with no role."""
    fields.setdefault("username", f"{role or 'norole'}-{next(_seq)}")
    user = User.objects.create_user(password="correct horse battery", is_staff=staff, **fields)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user
