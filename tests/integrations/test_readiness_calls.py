"""Readiness checks of the token endpoint, the business endpoints and latency, on the sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations.models import AccessToken, Endpoint, UserSession
from integrations.services.calls import endpoint_call
from tests.integrations.readiness_support import one, run_checks

pytestmark = pytest.mark.django_db


# --- oauth.token ---------------------------------------------------------------------


def test_token_passes_for_a_bearer_token_with_an_expiry(demo_endpoint: Endpoint) -> None:
    result = one(demo_endpoint.environment, "oauth.token")
    assert result["verdict"] == "pass"
    assert result["evidence"]["token_type"] == "Bearer"
    assert result["evidence"]["lifetime_s"] == 28799


def test_token_fails_without_expires_in(demo_endpoint: Endpoint, sandbox: Any) -> None:
    sandbox.set_faults(omit_expires_in=True)
    result = one(demo_endpoint.environment, "oauth.token")
    assert result["verdict"] == "fail" and "no 'expires_in'" in result["message"]


def test_token_fails_when_the_client_is_refused(demo_endpoint: Endpoint, sandbox: Any) -> None:
    sandbox.set_faults(reject=["client"])
    result = one(demo_endpoint.environment, "oauth.token")
    assert result["verdict"] == "fail" and "invalid_client" in result["message"]


# --- oauth.wrong_secret --------------------------------------------------------------


def test_wrong_secret_passes_when_answered_invalid_client(demo_endpoint: Endpoint) -> None:
    result = one(demo_endpoint.environment, "oauth.wrong_secret")
    assert result["verdict"] == "pass"
    assert result["evidence"]["error_code"] == "invalid_client"
    assert "401 invalid_client" in result["message"]
    wire = json.dumps(result["evidence"]["exchange"])
    assert "invalid_client" in wire and "client_secret" in wire  # the refused request, shown
    assert "readiness-wrong-secret-" not in wire and "demo-client-secret" not in wire


@pytest.mark.parametrize(("lenient", "words"), [("token", "with a token"), ("500", "500")])
def test_wrong_secret_fails_when_the_endpoint_is_lenient(
    demo_endpoint: Endpoint, sandbox: Any, lenient: str, words: str
) -> None:
    sandbox.set_faults(token_endpoint_lenient=lenient)
    result = one(demo_endpoint.environment, "oauth.wrong_secret")
    assert result["verdict"] == "fail" and words in result["message"]


def test_wrong_secret_probe_leaves_the_stored_secret_alone(demo_endpoint: Endpoint) -> None:
    one(demo_endpoint.environment, "oauth.wrong_secret")
    demo_endpoint.oauth_client.refresh_from_db()
    assert demo_endpoint.oauth_client.client_secret.reveal() == "demo-client-secret"


# --- endpoint.requires_* / accepts_complete_call -------------------------------------

REFUSALS = [
    ("endpoint.requires_bearer", "bearer", 401),
    ("endpoint.requires_api_key", "api_key", 403),
    ("endpoint.requires_identifier", "customer_auth", 401),
]


@pytest.mark.parametrize(("check", "credential", "status"), REFUSALS)
def test_an_endpoint_passes_when_it_refuses_the_incomplete_call(
    demo_endpoint: Endpoint, check: str, credential: str, status: int
) -> None:
    result = one(demo_endpoint.environment, check)
    assert result["verdict"] == "pass" and result["target"] == "getprofile"
    assert result["evidence"]["exchange"]["response"]["status"] == status


@pytest.mark.parametrize(("check", "credential", "status"), REFUSALS)
def test_an_endpoint_fails_when_it_answers_the_incomplete_call(
    demo_endpoint: Endpoint, sandbox: Any, check: str, credential: str, status: int
) -> None:
    sandbox.set_faults(accept_missing=[credential])
    result = one(demo_endpoint.environment, check)
    assert result["verdict"] == "fail" and "answered 200" in result["message"]
    assert result["fix"]


def test_the_incomplete_calls_really_lack_the_credential(demo_endpoint: Endpoint) -> None:
    results = run_checks(
        demo_endpoint.environment, "endpoint.requires_bearer", "endpoint.requires_identifier"
    )
    headers = [
        {k.lower() for k, _ in r["evidence"]["exchange"]["request"]["headers"]} for r in results
    ]
    assert "authorization" not in headers[0] and "customer-auth" in headers[0]
    assert "customer-auth" not in headers[1] and "authorization" in headers[1]


def test_a_server_error_on_an_incomplete_call_is_a_fail(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(error_rate=1.0, error_status=500)
    result = one(demo_endpoint.environment, "endpoint.requires_bearer")
    assert result["verdict"] == "fail" and "fail with 500" in result["message"]


def test_complete_call_passes_with_every_credential(demo_endpoint: Endpoint) -> None:
    result = one(demo_endpoint.environment, "endpoint.accepts_complete_call")
    assert result["verdict"] == "pass"
    assert "customer_id" in result["evidence"]["exchange"]["response"]["body"]


def test_complete_call_fails_when_the_endpoint_refuses_it(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(reject=["api_key"])
    result = one(demo_endpoint.environment, "endpoint.accepts_complete_call")
    assert result["verdict"] == "fail" and "403, not 200" in result["message"]


def test_complete_call_answered_by_an_html_page_warns_saying_so_with_its_start(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(html_ok=True)
    result = one(demo_endpoint.environment, "endpoint.accepts_complete_call")
    assert result["verdict"] == "warn"
    assert result["message"].startswith(
        "The complete call is answered 200, but the 200 answer is an HTML page (text/html), "
        "not JSON; it begins: <!DOCTYPE html> <html><head><title>Sign in</title>"
    )
    assert "sign-in page" in result["fix"]


def test_endpoint_checks_fail_clearly_when_no_token_can_be_had(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(reject=["client"])
    result = one(demo_endpoint.environment, "endpoint.accepts_complete_call")
    assert result["verdict"] == "fail"
    assert result["message"].startswith("The call could not be made: no access token")


def test_an_endpoint_without_an_api_key_is_not_applicable(demo_endpoint: Endpoint) -> None:
    demo_endpoint.api_key = None
    demo_endpoint.save()
    assert one(demo_endpoint.environment, "endpoint.requires_api_key")["verdict"] == (
        "not_applicable"
    )


# --- latency -------------------------------------------------------------------------


def test_latency_passes_within_the_budget(demo_endpoint: Endpoint, sandbox: Any) -> None:
    results = run_checks(demo_endpoint.environment, "latency")
    assert [r["target"] for r in results] == [
        "oauth_token:default",
        "customer_auth:default",
        "endpoint:getprofile",
    ]
    assert {r["verdict"] for r in results} == {"pass"}
    assert all(len(r["evidence"]["timings_ms"]) == 3 for r in results)


def test_latency_fails_over_the_budget(demo_endpoint: Endpoint, sandbox: Any) -> None:
    environment = demo_endpoint.environment
    environment.latency_budget_ms = 40
    environment.save()
    sandbox.set_faults(latency_ms=80)
    results = run_checks(environment, "latency")
    assert {r["verdict"] for r in results} == {"fail"}
    assert "over the 40 ms budget" in results[0]["message"]


# --- the token cache -----------------------------------------------------------------


def test_checks_fetch_fresh_tokens_and_leave_the_cache_alone(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    assert endpoint_call(endpoint=demo_endpoint).ok  # live traffic fills the cache
    cached = [
        (row.token.reveal(), row.fetched_at)
        for row in (*AccessToken.objects.all(), *UserSession.objects.all())
    ]
    before = sandbox.stats()

    run_checks(
        demo_endpoint.environment,
        "customer_auth.login",
        "identity.consistent",
        "oauth.token",
        "endpoint.accepts_complete_call",
    )

    after = sandbox.stats()
    assert after["authenticate_requests"] - before["authenticate_requests"] == 3
    assert after["token_requests"] - before["token_requests"] == 1
    assert cached == [
        (row.token.reveal(), row.fetched_at)
        for row in (*AccessToken.objects.all(), *UserSession.objects.all())
    ]
