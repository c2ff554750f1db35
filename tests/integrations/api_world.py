"""Shared setup of the API tests: one object of every kind, and clients per role."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from accounts.models import TokenScope
from accounts.tokens import api_token_create
from integrations import clock
from integrations.choices import AuditAction, HealthState
from integrations.models import (
    ApiKey,
    AuditEvent,
    Customer,
    CustomerAuth,
    Endpoint,
    EndpointHealth,
    Environment,
    HealthTransition,
    OAuthClient,
    ProbeResult,
    TestCall,
    TestUser,
)
from integrations.services.demo import demo_customer_ensure
from tests.factories import make_user

ROLES = ("anonymous", "norole", "viewer", "engineer", "admin")
_seq = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_seq)}"


@dataclass
class World:
    """The demo customer (pointed at the sandbox) and a row of every history table."""

    customer: Customer
    environment: Environment
    oauth_client: OAuthClient
    customer_auth: CustomerAuth
    test_user: TestUser
    api_key: ApiKey
    endpoint: Endpoint
    test_call: TestCall
    probe_result: ProbeResult
    health: EndpointHealth
    transition: HealthTransition
    audit_event: AuditEvent


def world_build(*, sandbox_url: str) -> World:
    customer = demo_customer_ensure(sandbox_url=sandbox_url)
    endpoint = Endpoint.objects.select_related(
        "environment", "oauth_client", "customer_auth", "api_key", "default_test_user"
    ).get(environment__customer=customer, slug="getprofile")
    now = clock.now()
    health, _ = EndpointHealth.objects.update_or_create(
        endpoint=endpoint, defaults={"state": HealthState.HEALTHY, "state_since": now}
    )
    return World(
        customer=customer,
        environment=endpoint.environment,
        oauth_client=endpoint.oauth_client,
        customer_auth=endpoint.customer_auth,
        test_user=endpoint.default_test_user,
        api_key=endpoint.api_key,
        endpoint=endpoint,
        test_call=TestCall.objects.create(endpoint=endpoint, actor_label="someone", ok=True),
        probe_result=ProbeResult.objects.create(
            endpoint=endpoint, due_at=now, started_at=now, lag_ms=1.0, ok=True, status=200
        ),
        health=health,
        transition=HealthTransition.objects.create(
            endpoint=endpoint,
            at=now - timedelta(minutes=5),
            from_state=HealthState.UNKNOWN,
            to_state=HealthState.HEALTHY,
        ),
        audit_event=AuditEvent.objects.create(actor_label="someone", action=AuditAction.LOGIN),
    )


def user_for(role: str) -> User | None:
    if role == "anonymous":
        return None
    return make_user(None if role == "norole" else role)


def token_client(user: User | None, *, scope: str = TokenScope.WRITE) -> APIClient:
    """A client that authenticates with a real API token of ``user`` (anonymous if None)."""
    client = APIClient()
    if user is not None:
        _, raw = api_token_create(user=user, name="test", scope=scope)
        client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client


def client_as(role: str, **kwargs: Any) -> APIClient:
    return token_client(user_for(role), **kwargs)


def error_of(response: Any) -> dict[str, Any]:
    """The error body, checked to have the one error shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]
