"""Readiness of a cookie-session customer: the identifier is what the session resolves to.

The sandbox's ``session_cookie="opaque"`` knob makes cookie mode hand out random session
ids, as web logins do: two logins of one person always get two different cookies, so
the identity checks ask the customer's API which customer each session belongs to.
"""

from __future__ import annotations

from typing import Any

import pytest

from integrations.choices import CustomerAuthMode, IdentifierLocation
from integrations.models import Endpoint
from tests.integrations.readiness_support import one

pytestmark = pytest.mark.django_db


@pytest.fixture
def cookie_endpoint(demo_endpoint: Endpoint, sandbox: Any) -> Endpoint:
    """The demo customer in cookie mode with random session ids; getprofile reads the cookie."""
    sandbox.set_faults(auth_mode="cookie", session_cookie="opaque")
    auth = demo_endpoint.customer_auth
    assert auth is not None
    auth.mode = CustomerAuthMode.COOKIE
    auth.save()
    demo_endpoint.identifier_location = IdentifierLocation.COOKIE
    demo_endpoint.save()
    return demo_endpoint


def test_two_logins_with_random_cookies_pass_when_the_api_resolves_them_to_one_customer(
    cookie_endpoint: Endpoint,
) -> None:
    result = one(cookie_endpoint.environment, "identity.consistent")

    assert result["verdict"] == "pass", result
    assert (
        "different session cookies that getprofile resolves to the same customer_id"
        in (result["message"])
    )
    first, second = result["evidence"]["logins"]
    assert first["identity"] != second["identity"]  # the cookies themselves differ
    assert first["resolved"]["customer"] == second["resolved"]["customer"]
    assert first["resolved"] == {
        "endpoint": "getprofile",
        "field": "customer_id",
        "customer": first["resolved"]["customer"],
    }


def test_a_customer_that_resolves_each_login_to_a_new_customer_fails_consistency(
    cookie_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(identity_per_login=True)

    result = one(cookie_endpoint.environment, "identity.consistent")

    assert result["verdict"] == "fail"
    assert "resolved by getprofile to two different customer_id values" in result["message"]
    customers = [login["resolved"]["customer"] for login in result["evidence"]["logins"]]
    assert customers[0] != customers[1]


def test_two_users_resolved_to_one_customer_fail_uniqueness_despite_different_cookies(
    cookie_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(shared_identity=True)

    result = one(cookie_endpoint.environment, "identity.unique")

    assert result["verdict"] == "fail"
    assert "same customer_id: alice, bob" in result["message"]


def test_without_an_endpoint_that_sends_the_session_the_check_does_not_apply(
    cookie_endpoint: Endpoint,
) -> None:
    cookie_endpoint.identifier_location = IdentifierLocation.NONE
    cookie_endpoint.save()

    result = one(cookie_endpoint.environment, "identity.consistent")

    assert result["verdict"] == "not_applicable"
    assert result["message"].startswith("Session cookies are random per login")
    assert (
        "no endpoint of the environment sends this customer auth's session" in (result["message"])
    )


def test_an_answer_that_names_no_customer_makes_the_check_not_applicable_saying_why(
    cookie_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(html_ok=True)  # a 200 sign-in page: no customer field to read

    result = one(cookie_endpoint.environment, "identity.consistent")

    assert result["verdict"] == "not_applicable"
    assert "/account/getprofile names no customer (no field sub, customer_id" in (result["message"])
    assert result["fix"] == ""


def test_a_jwt_in_the_cookie_is_still_compared_by_its_claim(
    cookie_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(session_cookie="jwt")

    result = one(cookie_endpoint.environment, "identity.consistent")

    assert result["verdict"] == "pass"
    assert [login["source"] for login in result["evidence"]["logins"]] == ["claim 'sub'"] * 2
    assert "resolved" not in result["evidence"]["logins"][0]


def test_a_fresh_session_the_api_refuses_fails_the_check_with_the_answer_as_evidence(
    cookie_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(reject=["customer_auth"])

    result = one(cookie_endpoint.environment, "identity.consistent")

    assert result["verdict"] == "fail"
    assert result["message"] == (
        "Not checked: getprofile answered 401 (not 200) to a fresh session of alice."
    )
    assert result["evidence"]["exchange"]["response"]["status"] == 401
    assert "session cookie of a fresh login" in result["fix"]
