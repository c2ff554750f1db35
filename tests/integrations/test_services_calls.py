"""Endpoint calls against the sandbox: the guide's flow, credentials attached, 401 retry."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.choices import CustomerAuthMode, IdentifierLocation
from integrations.models import AccessToken, Endpoint
from integrations.services.calls import endpoint_call, prepare_request
from integrations.services.tokens import access_token_get

pytestmark = pytest.mark.django_db


def sent_headers(result: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in result.exchange.request.headers}


def test_the_guides_flow_end_to_end_returns_the_profile(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    result = endpoint_call(endpoint=demo_endpoint)
    assert result.ok and result.status == 200 and result.error is None
    profile = result.body_json
    assert profile["customer_id"] and profile["first_name"]
    assert [(s.name, s.outcome) for s in result.steps] == [
        ("oauth_token", "fetched"),
        ("customer_auth", "fetched"),
    ]
    headers = sent_headers(result)
    assert headers["authorization"].startswith("Bearer ")
    assert headers["customer-auth"].startswith("JWT ")
    assert headers["api-key"] == "demo-api-key"
    assert result.duration_ms > 0


def test_a_second_call_takes_both_tokens_from_the_cache(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    endpoint_call(endpoint=demo_endpoint)
    again = endpoint_call(endpoint=demo_endpoint)
    assert [s.outcome for s in again.steps] == ["cache_hit", "cache_hit"]
    stats = sandbox.stats()
    assert stats["token_requests"] == 1 and stats["authenticate_requests"] == 1


def test_each_credential_is_attached_only_when_the_endpoint_uses_it(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    demo_endpoint.api_key = None
    demo_endpoint.save()
    result = endpoint_call(endpoint=demo_endpoint)
    assert "api-key" not in sent_headers(result)
    assert result.status == 403 and result.error_code == "upstream_http_error"


def test_a_401_refreshes_the_token_once_and_retries_once(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    endpoint_call(endpoint=demo_endpoint)
    sandbox.reset()  # the sandbox forgets the access tokens it issued: ours is now invalid
    result = endpoint_call(endpoint=demo_endpoint)
    assert result.ok and result.retried_after_401
    assert [s.outcome for s in result.steps] == ["cache_hit", "cache_hit", "refreshed_after_401"]
    assert sandbox.stats()["token_requests"] == 1 and sandbox.stats()["profile_requests"] == 2


def test_a_401_that_persists_is_retried_only_once(demo_endpoint: Endpoint, sandbox: Any) -> None:
    access_token_get(oauth_client=demo_endpoint.oauth_client)
    sandbox.set_faults(reject=["bearer"])
    result = endpoint_call(endpoint=demo_endpoint)
    assert result.status == 401 and not result.ok and result.retried_after_401
    assert sandbox.stats()["profile_requests"] == 2


def test_an_invalid_client_blocks_the_call_at_the_token_step(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    client = demo_endpoint.oauth_client
    client.client_secret = "wrong"
    client.save()
    result = endpoint_call(endpoint=demo_endpoint)
    assert not result.ok and result.status is None and result.error_code == "invalid_client"
    assert result.steps[-1].name == "oauth_token" and result.steps[-1].outcome == "failed"
    assert sandbox.stats().get("profile_requests", 0) == 0
    assert AccessToken.objects.get(pk=client.pk).last_error_code == "invalid_client"


def test_cookie_mode_sends_the_session_cookie(demo_endpoint: Endpoint, sandbox: Any) -> None:
    sandbox.set_faults(auth_mode="cookie")
    auth = demo_endpoint.customer_auth
    auth.mode = CustomerAuthMode.COOKIE
    auth.save()
    demo_endpoint.identifier_location = IdentifierLocation.COOKIE
    demo_endpoint.save()
    result = endpoint_call(endpoint=demo_endpoint)
    assert result.ok, result.error_message
    assert sent_headers(result)["cookie"].startswith("session=")
    assert "customer-auth" not in sent_headers(result)


def test_templates_render_variables_and_a_missing_one_is_named(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    demo_endpoint.path = "/account/getprofile?ref={ref}"
    demo_endpoint.body_template = {"ref": "{ref}"}
    demo_endpoint.save()
    missing = endpoint_call(endpoint=demo_endpoint)
    assert missing.error_code == "template_error" and "'ref'" in missing.error_message
    rendered = endpoint_call(endpoint=demo_endpoint, variables={"ref": "a/b?c"})
    assert rendered.exchange.request.url.endswith("ref=a%2Fb%3Fc")
    assert rendered.request.json_body == {"ref": "a/b?c"}


def test_the_identifier_can_go_in_a_body_field(demo_endpoint: Endpoint, sandbox: Any) -> None:
    demo_endpoint.identifier_location = IdentifierLocation.BODY
    demo_endpoint.identifier_body_field = "customerToken"
    demo_endpoint.body_template = {"channel": "chat"}
    tokens = type(
        "T",
        (),
        {"bearer": None, "session": type("S", (), {"value": "jwt-value", "cookie_name": ""})()},
    )()
    request = prepare_request(endpoint=demo_endpoint, tokens=tokens, variables={})
    assert request.json_body == {"channel": "chat", "customerToken": "jwt-value"}
    assert "customer-auth" not in request.headers


def test_sandbox_outages_become_typed_errors(demo_endpoint: Endpoint, sandbox: Any) -> None:
    sandbox.set_faults(error_rate=1.0, error_status=503)
    result = endpoint_call(endpoint=demo_endpoint)
    assert result.status == 503 and result.error_code == "upstream_http_error"
    sandbox.set_faults(error_rate=0.0, malformed_json=True)
    result = endpoint_call(endpoint=demo_endpoint)
    assert result.status == 200 and not result.ok
    assert result.error_code == "malformed_response" and "does not parse" in result.error_message
