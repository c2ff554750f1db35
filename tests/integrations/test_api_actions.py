"""API actions: refresh a token now, probe now, run a test call; never a token in the output."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations.models import AccessToken, AuditEvent, ProbeResult, TestCall
from tests.factories import make_test_user
from tests.helpers import find_leaks
from tests.integrations.api_world import World, client_as, error_of, world_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(sandbox: Any) -> World:
    return world_build(sandbox_url=sandbox.url)


def cached_token(world: World) -> str:
    return AccessToken.objects.get(pk=world.oauth_client.pk).token.reveal()


def test_refreshing_an_oauth_client_fetches_a_new_token_even_when_cached(
    world: World, sandbox: Any
) -> None:
    engineer = client_as("engineer")
    url = f"/api/v1/oauth-clients/{world.oauth_client.pk}/refresh/"
    first = engineer.post(url)
    assert first.status_code == 200, first.content
    old = cached_token(world)
    second = engineer.post(url)
    assert second.status_code == 200
    assert sandbox.stats()["token_requests"] == 2
    new = cached_token(world)
    assert new != old
    body = second.json()
    assert set(body) == {
        "credential",
        "outcome",
        "issued_at",
        "expires_at",
        "expires_in_s",
        "duration_ms",
        "warnings",
    }
    assert body["outcome"] == "fetched" and 28000 < body["expires_in_s"] <= 28799
    assert find_leaks([first.content.decode(), second.content.decode()], [old, new]) == []
    event = AuditEvent.objects.filter(action="refresh_token").latest("id")
    assert event.object_type == "integrations.oauthclient" and event.detail["ok"] is True


def test_refreshing_a_test_user_logs_in_again(world: World, sandbox: Any) -> None:
    response = client_as("admin").post(f"/api/v1/test-users/{world.test_user.pk}/refresh/")
    assert response.status_code == 200, response.content
    assert sandbox.stats()["authenticate_requests"] == 1
    session = world.test_user.session
    session.refresh_from_db()
    assert session.token.reveal() not in response.content.decode()


def test_a_refused_refresh_is_a_502_naming_the_step_and_the_customers_error(
    world: World, sandbox: Any
) -> None:
    sandbox.set_faults(reject=["client"])
    response = client_as("engineer").post(f"/api/v1/oauth-clients/{world.oauth_client.pk}/refresh/")
    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "invalid_client"
    assert error["details"]["step"] == "oauth_token"
    assert "demo-client-secret" not in response.content.decode()
    event = AuditEvent.objects.filter(action="refresh_token").latest("id")
    assert event.detail == {"ok": False, "error_code": "invalid_client"}


def test_a_refresh_that_cannot_work_as_configured_is_a_409(world: World) -> None:
    user = make_test_user(customer_auth=world.customer_auth, password="")
    response = client_as("engineer").post(f"/api/v1/test-users/{user.pk}/refresh/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "configuration_error"


def test_probe_now_returns_the_probe_result_and_records_it(world: World) -> None:
    response = client_as("engineer").post(f"/api/v1/endpoints/{world.endpoint.pk}/probe/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["endpoint"] == world.endpoint.pk
    assert ProbeResult.objects.filter(endpoint=world.endpoint, pk=body["id"]).exists()


def test_a_test_call_runs_as_the_token_user_and_lists_with_the_endpoint(world: World) -> None:
    engineer = client_as("engineer")
    url = f"/api/v1/endpoints/{world.endpoint.pk}/test-calls/"
    created = engineer.post(url, {"variables": {}}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["ok"] is True and created.json()["actor_label"].startswith("engineer-")
    listed = engineer.get(url).json()
    assert listed["count"] == 2  # the world's own call and this one
    every = engineer.get(f"/api/v1/test-calls/?endpoint={world.endpoint.pk}&ok=true").json()
    assert every["count"] == 2
    assert find_leaks([json.dumps(listed)], ["demo-client-secret", "alice-password"]) == []


def test_a_test_call_with_another_customer_auths_user_is_a_400_naming_it(world: World) -> None:
    stranger = make_test_user()
    response = client_as("engineer").post(
        f"/api/v1/endpoints/{world.endpoint.pk}/test-calls/",
        {"test_user": stranger.pk},
        format="json",
    )
    assert response.status_code == 400
    assert list(error_of(response)["details"]) == ["test_user"]
    assert TestCall.objects.count() == 1


def test_actions_on_a_missing_object_are_404(world: World) -> None:
    engineer = client_as("engineer")
    for url in (
        "/api/v1/oauth-clients/999999/refresh/",
        "/api/v1/test-users/999999/refresh/",
        "/api/v1/endpoints/999999/probe/",
        "/api/v1/endpoints/999999/test-calls/",
    ):
        response = engineer.post(url, {}, format="json")
        assert response.status_code == 404, url
        assert error_of(response)["code"] == "not_found"
