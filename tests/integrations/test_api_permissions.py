"""Every API route and method, for every role: exactly the expected status.

The routes come from the API's own URL patterns, so a new route fails
``test_every_api_route_and_method_has_a_case`` until it gets a case here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from integrations.api import urls as api_urls
from tests import factories
from tests.integrations.api_world import ROLES, World, client_as, unique, user_for, world_build

pytestmark = pytest.mark.django_db

SAFE = {"GET", "HEAD", "OPTIONS"}
PROBE_STATUS = 200


def api_routes() -> list[tuple[str, str]]:
    """(route name, HTTP method) of every route under /api/v1/."""
    routes = []
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), f"nested include in the API: {pattern}"
        actions = getattr(pattern.callback, "actions", None)
        if actions:
            methods = [m.upper() for m in actions]
        else:
            view = pattern.callback.cls  # type: ignore[attr-defined]
            methods = [
                m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)
            ]
        routes += [(str(pattern.name), method) for method in methods]
    return routes


def _env(w: World) -> dict[str, Any]:
    return {"environment": w.environment.pk}


# Per resource: the object a detail route is about, a fresh one to delete, a create body.
RESOURCES: dict[str, dict[str, Callable[[World], Any]]] = {
    "customer": {
        "object": lambda w: w.customer,
        "disposable": lambda w: factories.make_customer(),
        "body": lambda w: {"name": unique("Customer"), "slug": unique("customer")},
    },
    "environment": {
        "object": lambda w: w.environment,
        "disposable": lambda w: factories.make_environment(customer=w.customer),
        "body": lambda w: {
            "customer": w.customer.pk,
            "name": unique("Env"),
            "slug": unique("env"),
            "base_url": "https://api.example.com",
        },
    },
    "oauth-client": {
        "object": lambda w: w.oauth_client,
        "disposable": lambda w: factories.make_oauth_client(environment=w.environment),
        "body": lambda w: {
            **_env(w),
            "name": unique("client"),
            "client_id": "demo-client",
            "client_secret": "demo-client-secret",
        },
    },
    "customer-auth": {
        "object": lambda w: w.customer_auth,
        "disposable": lambda w: factories.make_customer_auth(environment=w.environment),
        "body": lambda w: {**_env(w), "name": unique("auth")},
    },
    "test-user": {
        "object": lambda w: w.test_user,
        "disposable": lambda w: factories.make_test_user(customer_auth=w.customer_auth),
        "body": lambda w: {
            "customer_auth": w.customer_auth.pk,
            "label": unique("user"),
            "username": "alice",
            "password": "alice-password",
        },
    },
    "api-key": {
        "object": lambda w: w.api_key,
        "disposable": lambda w: factories.make_api_key(environment=w.environment),
        "body": lambda w: {**_env(w), "name": unique("key"), "value": "demo-api-key"},
    },
    "endpoint": {
        "object": lambda w: w.endpoint,
        "disposable": lambda w: factories.make_endpoint(environment=w.environment),
        "body": lambda w: {
            **_env(w),
            "name": unique("Endpoint"),
            "slug": unique("endpoint"),
            "identifier_location": "none",
        },
    },
    "test-call": {"object": lambda w: w.test_call},
    "probe-result": {"object": lambda w: w.probe_result},
    "endpoint-health": {"object": lambda w: w.health},
    "health-transition": {"object": lambda w: w.transition},
    "audit-event": {"object": lambda w: w.audit_event},
}


@dataclass
class Case:
    """How to call one route with one method, and the status when it is allowed."""

    url: Callable[[World], str]
    ok: int
    body: Callable[[World], Any] = lambda w: None


def _detail(basename: str, suffix: str = "detail", pick: str = "object") -> Callable[[World], str]:
    return lambda w: reverse(f"{basename}-{suffix}", args=[RESOURCES[basename][pick](w).pk])


def _cases() -> dict[tuple[str, str], Case]:
    cases = {
        ("api-root", "GET"): Case(lambda w: reverse("api-root"), 200),
        ("overview", "GET"): Case(lambda w: reverse("overview"), 200),
    }
    for basename, parts in RESOURCES.items():
        cases[(f"{basename}-list", "GET")] = Case(lambda w, b=basename: reverse(f"{b}-list"), 200)
        cases[(f"{basename}-detail", "GET")] = Case(_detail(basename), 200)
        if "body" not in parts:
            continue
        body = parts["body"]
        cases[(f"{basename}-list", "POST")] = Case(
            lambda w, b=basename: reverse(f"{b}-list"), 201, body
        )
        cases[(f"{basename}-detail", "PUT")] = Case(_detail(basename), 200, body)
        cases[(f"{basename}-detail", "PATCH")] = Case(_detail(basename), 200, lambda w: {})
        cases[(f"{basename}-detail", "DELETE")] = Case(_detail(basename, pick="disposable"), 204)
    cases[("endpoint-test-calls", "GET")] = Case(_detail("endpoint", "test-calls"), 200)
    cases[("endpoint-test-calls", "POST")] = Case(
        _detail("endpoint", "test-calls"), 201, lambda w: {}
    )
    cases[("endpoint-probe", "POST")] = Case(_detail("endpoint", "probe"), PROBE_STATUS)
    cases[("oauth-client-refresh", "POST")] = Case(_detail("oauth-client", "refresh"), 200)
    cases[("test-user-refresh", "POST")] = Case(_detail("test-user", "refresh"), 200)
    cases[("environment-readiness", "GET")] = Case(_detail("environment", "readiness"), 200)
    cases[("environment-readiness", "POST")] = Case(_detail("environment", "readiness"), 201)
    return cases


ROUTES = api_routes()
CASES = _cases()


def expected_status(role: str, method: str, ok: int) -> int:
    if role == "anonymous":
        return 401
    if role == "norole" or (role == "viewer" and method not in SAFE):
        return 403
    return ok


def _body_for_put(case: Case, route: str, w: World) -> Any:
    """PUT replaces an existing object: keep its parent, which cannot change."""
    body = case.body(w)
    if route == "environment-detail":
        body["customer"] = w.customer.pk
    return body


def test_every_api_route_and_method_has_a_case() -> None:
    missing = sorted(set(ROUTES) - set(CASES))
    stale = sorted(set(CASES) - set(ROUTES))
    assert missing == [], f"API routes without a permission case: add them to _cases(): {missing}"
    assert stale == [], f"cases for routes that no longer exist: {stale}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("route", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
def test_each_role_gets_exactly_the_expected_status(
    route: str, method: str, role: str, sandbox: Any
) -> None:
    case = CASES.get((route, method))
    if case is None:
        pytest.fail(f"no permission case for {method} {route}")
    w = world_build(sandbox_url=sandbox.url)
    client = client_as(role)
    body = _body_for_put(case, route, w) if method == "PUT" else case.body(w)
    data = "" if body is None else json.dumps(body)
    response = client.generic(method, case.url(w), data, content_type="application/json")
    assert response.status_code == expected_status(role, method, case.ok), response.content[:500]


@pytest.mark.parametrize(
    ("role", "schema_status", "docs_status"),
    [
        ("anonymous", 401, 302),
        ("norole", 403, 403),
        ("viewer", 200, 200),
        ("engineer", 200, 200),
        ("admin", 200, 200),
    ],
)
def test_the_schema_and_docs_pages_need_a_role(
    role: str, schema_status: int, docs_status: int
) -> None:
    user = user_for(role)
    browser = Client()
    if user is not None:
        browser.force_login(user)
    assert browser.get("/api/docs/").status_code == docs_status
    assert client_as(role).get("/api/schema/").status_code == schema_status
