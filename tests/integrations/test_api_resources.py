"""API resources: CRUD, validation, filters, ordering, pagination and audit of writes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from integrations import clock
from integrations.choices import HealthState
from integrations.models import AuditEvent, Customer, Endpoint, OAuthClient, ProbeResult
from tests.factories import (
    make_customer,
    make_endpoint,
    make_environment,
    make_oauth_client,
    make_user,
)
from tests.integrations.api_world import client_as, error_of, world_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineer() -> Any:
    return client_as("engineer")


def test_an_engineer_creates_changes_and_deletes_a_customer_with_audit_events(
    engineer: Any,
) -> None:
    created = engineer.post("/api/v1/customers/", {"name": "Acme", "slug": "acme"}, format="json")
    assert created.status_code == 201, created.content
    url = f"/api/v1/customers/{created.json()['id']}/"
    changed = engineer.patch(url, {"notes": "VIP", "name": "Acme"}, format="json")
    assert changed.status_code == 200 and changed.json()["notes"] == "VIP"
    assert engineer.delete(url).status_code == 204
    assert not Customer.objects.exists()
    events = list(AuditEvent.objects.filter(object_type="integrations.customer").order_by("id"))
    assert [e.action for e in events] == ["create", "change", "delete"]
    assert events[0].changed_fields == ["name", "slug"]
    assert events[1].changed_fields == ["notes"]  # the name was sent but did not change
    assert all(e.actor_label.startswith("engineer-") for e in events)
    assert events[0].detail["via"] == "api" and len(events[0].detail["api_token"]) == 8


def test_a_credential_of_another_environment_is_refused_naming_the_field(engineer: Any) -> None:
    endpoint = make_endpoint(identifier_location="none")
    foreign = make_oauth_client()  # in an environment of its own
    response = engineer.patch(
        f"/api/v1/endpoints/{endpoint.pk}/", {"oauth_client": foreign.pk}, format="json"
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert error["details"] == {"oauth_client": ["Must belong to the endpoint's environment."]}
    assert "oauth_client" in error["message"]
    assert Endpoint.objects.get().oauth_client is None
    assert not AuditEvent.objects.filter(object_type="integrations.endpoint").exists()


def test_a_parent_cannot_be_changed_after_creation(engineer: Any) -> None:
    client = make_oauth_client()
    other = make_environment()
    response = engineer.patch(
        f"/api/v1/oauth-clients/{client.pk}/", {"environment": other.pk}, format="json"
    )
    assert response.status_code == 400
    assert list(error_of(response)["details"]) == ["environment"]


def test_a_duplicate_name_is_a_400_naming_the_fields(engineer: Any) -> None:
    make_customer(name="Acme", slug="acme")
    response = engineer.post("/api/v1/customers/", {"name": "Acme", "slug": "acme"}, format="json")
    assert response.status_code == 400
    assert set(error_of(response)["details"]) == {"name", "slug"}


def test_deleting_a_credential_in_use_is_a_409_and_leaves_no_audit_event(
    engineer: Any, sandbox: Any
) -> None:
    w = world_build(sandbox_url=sandbox.url)
    before = AuditEvent.objects.count()
    response = engineer.delete(f"/api/v1/oauth-clients/{w.oauth_client.pk}/")
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "protected"
    assert error["details"]["used_by"] == [{"type": "integrations.endpoint", "id": w.endpoint.pk}]
    assert OAuthClient.objects.filter(pk=w.oauth_client.pk).exists()
    assert AuditEvent.objects.count() == before


def test_lists_filter_by_customer_slug_and_parent(engineer: Any) -> None:
    acme = make_environment(customer=make_customer(slug="acme"))
    make_endpoint(environment=acme, name="Profile")
    make_endpoint(name="Elsewhere")
    names = [
        e["name"] for e in engineer.get("/api/v1/endpoints/?customer_slug=acme").json()["results"]
    ]
    assert names == ["Profile"]
    by_env = engineer.get(f"/api/v1/endpoints/?environment={acme.pk}").json()
    assert by_env["count"] == 1
    assert engineer.get("/api/v1/environments/?customer_slug=acme").json()["count"] == 1


def test_probe_results_filter_by_outcome_and_time_range(engineer: Any, sandbox: Any) -> None:
    w = world_build(sandbox_url=sandbox.url)
    now = clock.now()
    ProbeResult.objects.create(
        endpoint=w.endpoint,
        due_at=now - timedelta(hours=2),
        started_at=now - timedelta(hours=2),
        lag_ms=0,
        ok=False,
        error_class="timeout",
    )
    failed = engineer.get("/api/v1/probe-results/?ok=false").json()
    assert failed["count"] == 1 and failed["results"][0]["error_class"] == "timeout"
    since = (now - timedelta(hours=1)).isoformat()
    recent = engineer.get("/api/v1/probe-results/", {"started_after": since}).json()
    assert recent["count"] == 1 and recent["results"][0]["ok"] is True


def test_health_lists_filter_by_state(engineer: Any, sandbox: Any) -> None:
    w = world_build(sandbox_url=sandbox.url)
    healthy = engineer.get("/api/v1/endpoint-health/?state=healthy").json()
    assert [h["endpoint"] for h in healthy["results"]] == [w.endpoint.pk]
    assert engineer.get("/api/v1/endpoint-health/?state=down").json()["count"] == 0
    assert engineer.get("/api/v1/endpoints/?state=healthy").json()["count"] == 1
    detail = engineer.get(f"/api/v1/endpoint-health/{w.endpoint.pk}/").json()
    assert detail["state"] == HealthState.HEALTHY
    transitions = engineer.get(f"/api/v1/health-transitions/?endpoint={w.endpoint.pk}").json()
    assert transitions["results"][0]["to_state"] == "healthy"


def test_an_invalid_filter_value_is_a_400_naming_the_parameter(engineer: Any) -> None:
    response = engineer.get("/api/v1/probe-results/?started_after=yesterday")
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_datetime"
    assert list(error_of(response)["details"]) == ["started_after"]
    response = engineer.get("/api/v1/endpoint-health/?state=sideways")
    assert response.status_code == 400 and "state" in error_of(response)["details"]


def test_lists_order_and_paginate_with_a_maximum_page_size(engineer: Any, settings: Any) -> None:
    settings.API_MAX_PAGE_SIZE = 2
    for name in ("Bravo", "Alpha", "Charlie"):
        make_customer(name=name)
    page = engineer.get("/api/v1/customers/?ordering=-name&page_size=50").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert [c["name"] for c in page["results"]] == ["Charlie", "Bravo"]
    last = engineer.get("/api/v1/customers/?ordering=-name&page_size=2&page=2").json()
    assert [c["name"] for c in last["results"]] == ["Alpha"]
    missing = engineer.get("/api/v1/customers/?page=9")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"


def test_audit_events_are_readable_and_filterable(sandbox: Any) -> None:
    world_build(sandbox_url=sandbox.url)
    viewer = client_as("viewer")
    events = viewer.get("/api/v1/audit-events/?action=login").json()
    assert events["count"] == 1 and events["results"][0]["actor_label"] == "someone"


def test_errors_share_one_shape(engineer: Any) -> None:
    assert error_of(engineer.get("/api/v1/customers/999999/"))["code"] == "not_found"
    not_allowed = engineer.delete("/api/v1/audit-events/")
    assert not_allowed.status_code == 405
    assert error_of(not_allowed)["code"] == "method_not_allowed"
    bad_json = engineer.generic("POST", "/api/v1/customers/", "{", content_type="application/json")
    assert bad_json.status_code == 400 and error_of(bad_json)["code"] == "parse_error"
    anonymous = client_as("anonymous").get("/api/v1/customers/")
    assert error_of(anonymous)["code"] == "not_authenticated"


def test_session_writes_need_the_csrf_token() -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user("engineer"))
    body = {"name": "Acme", "slug": "acme"}
    refused = browser.post("/api/v1/customers/", body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in error_of(refused)["message"]
    browser.get("/api/docs/")  # any page that sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    created = browser.post(
        "/api/v1/customers/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert created.status_code == 201, created.content
