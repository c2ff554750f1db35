"""Secrets follow their destination: after a change of host the edge never sends an old one."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.models import AccessToken, Endpoint, UserSession
from integrations.services.demo import DEMO_API_KEY, DEMO_CLIENT_SECRET, DEMO_USERS
from integrations.services.destinations import url_origin
from tests.helpers import find_leaks
from tests.integrations.api_world import client_as
from tests.integrations.outbound_servers import Received, ok_json, serving

pytestmark = pytest.mark.django_db


def wire_texts(requests: list[Received]) -> list[str]:
    """Everything a server read: request line, headers and body."""
    return [f"{r.target}\n{r.headers}\n{r.body.decode('latin-1')}" for r in requests]


def test_origins_compare_scheme_host_and_port_never_the_path() -> None:
    assert url_origin("https://API.example.com/a") == url_origin("https://api.example.com:443/b")
    assert url_origin("http://api.example.com") == "http://api.example.com:80"
    assert url_origin("http://api.example.com") != url_origin("https://api.example.com")
    assert url_origin("https://api.example.com:8443") != url_origin("https://api.example.com")
    assert url_origin("http://[::1]:8080/x") == "http://[::1]:8080"


def _cache_tokens_then_note_old_secrets(engineer: Any, endpoint: Endpoint) -> list[str]:
    calls = f"/api/v1/endpoints/{endpoint.pk}/test-calls/"
    assert engineer.post(calls, {}, format="json").json()["ok"] is True  # tokens now cached
    cached = [AccessToken.objects.get().token, UserSession.objects.get().token]
    return [DEMO_CLIENT_SECRET, DEMO_API_KEY, *DEMO_USERS.values()] + [
        token.reveal() for token in cached if token is not None
    ]


def _move(engineer: Any, endpoint: Endpoint, base_url: str) -> None:
    env = f"/api/v1/environments/{endpoint.environment_id}/"
    moved = engineer.patch(env, {"base_url": base_url}, format="json")
    assert moved.status_code == 200, moved.content


def test_a_test_call_after_a_new_base_url_host_sends_no_old_secret_there(
    demo_endpoint: Endpoint, settings: Any
) -> None:
    engineer = client_as("engineer")
    old = _cache_tokens_then_note_old_secrets(engineer, demo_endpoint)

    with serving(ok_json) as new_host:
        settings.OUTBOUND_ALLOWLIST = [*settings.OUTBOUND_ALLOWLIST, new_host.hostport]
        _move(engineer, demo_endpoint, new_host.url(""))
        calls = f"/api/v1/endpoints/{demo_endpoint.pk}/test-calls/"
        call = engineer.post(calls, {}, format="json").json()

    assert call["ok"] is False and call["error_code"] == "configuration_error"
    assert find_leaks(wire_texts(new_host.requests), old) == []


def test_the_new_host_receives_only_the_secrets_entered_for_it(
    demo_endpoint: Endpoint, settings: Any
) -> None:
    engineer = client_as("engineer")
    old = _cache_tokens_then_note_old_secrets(engineer, demo_endpoint)
    renew = {
        f"/api/v1/oauth-clients/{demo_endpoint.oauth_client_id}/": {
            "client_secret": "new-client-secret-7f3a"
        },
        f"/api/v1/api-keys/{demo_endpoint.api_key_id}/": {"value": "new-api-key-value-2b9c"},
        f"/api/v1/test-users/{demo_endpoint.default_test_user_id}/": {
            "password": "new-password-e4d1"
        },
    }

    with serving(ok_json) as new_host:
        settings.OUTBOUND_ALLOWLIST = [*settings.OUTBOUND_ALLOWLIST, new_host.hostport]
        _move(engineer, demo_endpoint, new_host.url(""))
        for url, body in renew.items():
            answer = engineer.patch(url, body, format="json")
            assert answer.status_code == 200, answer.content
        engineer.post(f"/api/v1/endpoints/{demo_endpoint.pk}/test-calls/", {}, format="json")

    assert new_host.requests, "the call went out to the new host"
    assert find_leaks(wire_texts(new_host.requests), old) == []
    assert find_leaks(wire_texts(new_host.requests), ["new-client-secret-7f3a"]) != []
