"""A cookie-session customer whose login is a web page: the cookie is the credential.

The sandbox's ``login_html`` knob answers the cookie-mode login as web logins do, with an
HTML page and the session's lifetime as the cookie's Max-Age; ``session_cookie="opaque"``
makes the cookie a random session id. Test calls go through the API, as people run them.
"""

from __future__ import annotations

from typing import Any

import pytest

from integrations.choices import CustomerAuthMode, IdentifierLocation
from integrations.models import Endpoint, UserSession
from tests.integrations.api_world import client_as
from tests.integrations.readiness_support import one

pytestmark = pytest.mark.django_db


@pytest.fixture
def cookie_endpoint(demo_endpoint: Endpoint, sandbox: Any) -> Endpoint:
    sandbox.set_faults(auth_mode="cookie", session_cookie="opaque", login_html=True)
    auth = demo_endpoint.customer_auth
    assert auth is not None
    auth.mode = CustomerAuthMode.COOKIE
    auth.save()
    demo_endpoint.identifier_location = IdentifierLocation.COOKIE
    demo_endpoint.save()
    return demo_endpoint


def run_test_call(endpoint: Endpoint) -> dict[str, Any]:
    response = client_as("engineer").post(
        f"/api/v1/endpoints/{endpoint.pk}/test-calls/", {"variables": {}}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def steps_of(call: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {step["name"]: (step["outcome"], step["error_code"]) for step in call["auth_steps"]}


def test_a_login_answering_an_html_page_with_the_cookie_is_a_successful_step(
    cookie_endpoint: Endpoint, sandbox: Any
) -> None:
    call = run_test_call(cookie_endpoint)

    assert call["ok"] is True, call["error_message"]
    assert call["status"] == 200 and call["error_code"] == ""
    assert steps_of(call)["customer_auth"] == ("fetched", "")
    session = UserSession.objects.get(test_user=cookie_endpoint.default_test_user)
    lifetime = (session.expires_at - session.issued_at).total_seconds()
    assert abs(lifetime - sandbox.config.token_lifetime) <= 2  # read from the cookie's Max-Age


def test_readiness_logs_in_over_the_html_login_and_reads_the_expiry_from_the_cookie(
    cookie_endpoint: Endpoint,
) -> None:
    result = one(cookie_endpoint.environment, "customer_auth.login")

    assert result["verdict"] in ("pass", "warn"), result
    assert "logins" in result["evidence"] and "error_code" not in result["evidence"]["logins"][0]


def test_garbage_from_the_business_endpoint_is_blamed_on_it_not_on_the_valid_login(
    cookie_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(malformed_json=True)

    call = run_test_call(cookie_endpoint)

    assert call["ok"] is False and call["error_code"] == "malformed_response"
    assert "/account/getprofile" in call["error_message"]
    assert "customer_authenticate" not in call["error_message"]
    assert {outcome for outcome, _ in steps_of(call).values()} <= {"fetched", "cache_hit"}


def test_a_login_that_sets_no_cookie_names_the_login_url_and_its_answer(
    cookie_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(auth_mode="token")  # the sandbox now answers a JWT in JSON, no cookie

    call = run_test_call(cookie_endpoint)

    assert call["ok"] is False and call["error_code"] == "missing_cookie"
    assert steps_of(call)["customer_auth"] == ("failed", "missing_cookie")
    expected = f"{sandbox.url}/auth/customer_authenticate (200, application/json) set no 'session'"
    assert expected in call["error_message"]
