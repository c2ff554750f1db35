"""Readiness checks of customer authentication, the identifier and the JWT, on the sandbox."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.choices import CustomerAuthMode, IdentifierLocation
from integrations.models import Endpoint
from sandbox.config import DEV_SIGNING_KEY
from tests.integrations.outbound_servers import respond, serving
from tests.integrations.readiness_support import one, with_verification_key

pytestmark = pytest.mark.django_db


# --- customer_auth.login -------------------------------------------------------------


def test_login_passes_when_every_test_user_gets_a_token_with_an_expiry(
    demo_endpoint: Endpoint,
) -> None:
    result = one(demo_endpoint.environment, "customer_auth.login")
    assert result["verdict"] == "pass"
    assert [entry["user"] for entry in result["evidence"]["logins"]] == ["alice", "bob"]
    assert result["evidence"]["logins"][0]["exchange"]["response"]["status"] == 200


def test_login_fails_when_the_answer_has_no_expires_in(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(omit_expires_in=True)
    result = one(demo_endpoint.environment, "customer_auth.login")
    assert result["verdict"] == "fail"
    assert "no 'expires_in'" in result["message"]
    assert result["fix"]


def test_login_fails_when_a_test_user_is_refused(demo_endpoint: Endpoint, sandbox: Any) -> None:
    sandbox.set_faults(reject=["user"])
    result = one(demo_endpoint.environment, "customer_auth.login")
    assert result["verdict"] == "fail"
    assert "invalid_credentials" in result["message"]


# --- customer_auth.expiry ------------------------------------------------------------


def test_expiry_passes_for_the_guides_eight_hours(demo_endpoint: Endpoint) -> None:
    result = one(demo_endpoint.environment, "customer_auth.expiry")
    assert result["verdict"] == "pass" and result["evidence"]["lifetime_s"] == 28799


@pytest.mark.parametrize(("lifetime", "word"), [(2 * 86400, "longer"), (120, "shorter")])
def test_expiry_warns_outside_the_configured_bounds(
    demo_endpoint: Endpoint, sandbox: Any, lifetime: int, word: str
) -> None:
    sandbox.set_faults(token_lifetime_s=lifetime)
    result = one(demo_endpoint.environment, "customer_auth.expiry")
    assert result["verdict"] == "warn" and word in result["message"]


def test_expiry_bounds_are_settings(demo_endpoint: Endpoint, settings: Any) -> None:
    settings.READINESS_MAX_TOKEN_LIFETIME_S = 3600
    assert one(demo_endpoint.environment, "customer_auth.expiry")["verdict"] == "warn"


# --- identity.unique / identity.consistent -------------------------------------------


def test_unique_passes_when_two_users_get_two_identifiers(demo_endpoint: Endpoint) -> None:
    result = one(demo_endpoint.environment, "identity.unique")
    assert result["verdict"] == "pass"
    shown = [entry["identity"] for entry in result["evidence"]["identities"]]
    assert len(set(shown)) == 2 and all(len(value) == 64 for value in shown)


def test_unique_fails_when_users_share_an_identifier(demo_endpoint: Endpoint, sandbox: Any) -> None:
    sandbox.set_faults(shared_identity=True)
    result = one(demo_endpoint.environment, "identity.unique")
    assert result["verdict"] == "fail" and "alice, bob" in result["message"]


def test_unique_warns_when_there_is_one_test_user_to_compare(demo_endpoint: Endpoint) -> None:
    demo_endpoint.customer_auth.test_users.filter(label="bob").update(is_active=False)
    result = one(demo_endpoint.environment, "identity.unique")
    assert result["verdict"] == "warn" and "second test user" in result["fix"]


def test_unique_uses_the_configured_identity_claim(demo_endpoint: Endpoint) -> None:
    auth = demo_endpoint.customer_auth
    auth.identity_claim = "iss"  # the same for everyone: not an identifier
    auth.save()
    assert one(demo_endpoint.environment, "identity.unique")["verdict"] == "fail"


def test_consistent_passes_when_the_identifier_survives_a_new_token(
    demo_endpoint: Endpoint,
) -> None:
    result = one(demo_endpoint.environment, "identity.consistent")
    assert result["verdict"] == "pass" and result["evidence"]["token_changed"] is True


def test_consistent_fails_when_every_login_gets_a_new_identifier(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(identity_per_login=True)
    result = one(demo_endpoint.environment, "identity.consistent")
    assert result["verdict"] == "fail" and "two different identifiers" in result["message"]


# --- identity.opaque -----------------------------------------------------------------


def test_opaque_passes_for_a_hashed_subject(demo_endpoint: Endpoint) -> None:
    result = one(demo_endpoint.environment, "identity.opaque")
    assert result["verdict"] == "pass"
    claims = result["evidence"]["scanned"][0]["jwt"]["claims"]
    assert claims["jti"] == "[REDACTED]" and len(claims["sub"]) == 64


@pytest.mark.parametrize(("mode", "place"), [("email", "claims"), ("sub", "identifier")])
def test_opaque_fails_when_the_jwt_carries_an_email_address(
    demo_endpoint: Endpoint, sandbox: Any, mode: str, place: str
) -> None:
    sandbox.set_faults(jwt_pii=mode)
    result = one(demo_endpoint.environment, "identity.opaque")
    assert result["verdict"] == "fail" and "email" in result["message"]
    assert "email" in json.dumps(result["evidence"]["scanned"][0]["found"][place])


def test_opaque_fails_for_personal_data_in_a_session_cookie(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(auth_mode="cookie", jwt_pii="email")
    auth = demo_endpoint.customer_auth
    auth.mode = CustomerAuthMode.COOKIE
    auth.save()
    result = one(demo_endpoint.environment, "identity.opaque")
    assert result["verdict"] == "fail"
    assert result["evidence"]["scanned"][0]["found"]["cookie"] == ["email", "name", "username"]


# --- jwt.claims ----------------------------------------------------------------------


def test_claims_pass_for_a_signed_jwt_whose_exp_matches(demo_endpoint: Endpoint) -> None:
    result = one(demo_endpoint.environment, "jwt.claims")
    assert result["verdict"] == "pass" and result["evidence"]["header"]["alg"] == "HS256"


def test_claims_fail_for_an_unsigned_jwt(demo_endpoint: Endpoint, sandbox: Any) -> None:
    sandbox.set_faults(jwt_alg_none=True)
    result = one(demo_endpoint.environment, "jwt.claims")
    assert result["verdict"] == "fail" and "alg none" in result["message"]


def test_claims_fail_when_exp_disagrees_with_expires_in(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(jwt_exp_skew_s=3600)
    result = one(demo_endpoint.environment, "jwt.claims")
    assert result["verdict"] == "fail" and "s off 'issued_at' + 'expires_in'" in result["message"]
    assert abs(result["evidence"]["exp_minus_expires_in_s"] - 3600) <= 2


def test_claims_are_not_applicable_to_an_opaque_cookie(demo_endpoint: Endpoint) -> None:
    with serving(opaque_cookie_login) as server:
        auth = demo_endpoint.customer_auth
        auth.mode, auth.authenticate_url = CustomerAuthMode.COOKIE, server.url("/login")
        auth.save()
        allow(demo_endpoint, server)
        assert one(demo_endpoint.environment, "jwt.claims")["verdict"] == "not_applicable"
        assert one(demo_endpoint.environment, "customer_auth.login")["verdict"] == "pass"


def opaque_cookie_login(conn: Any, request: Any, server: Any) -> bool:
    body = json.dumps({"issued_at": str(int(time.time() * 1000)), "expires_in": "600"}).encode()
    cookie = f"session=opaque{len(server.requests)}x9; Path=/; HttpOnly"
    return respond(conn, 200, body, Content_Type="application/json", Set_Cookie=cookie)


def allow(endpoint: Endpoint, server: Any) -> None:
    from django.conf import settings

    settings.OUTBOUND_ALLOWLIST = [*settings.OUTBOUND_ALLOWLIST, server.hostport]


# --- jwt.signature -------------------------------------------------------------------


def test_signature_is_not_applicable_without_a_key(demo_endpoint: Endpoint) -> None:
    assert one(demo_endpoint.environment, "jwt.signature")["verdict"] == "not_applicable"


def test_signature_passes_with_the_shared_secret(demo_endpoint: Endpoint) -> None:
    result = one(with_verification_key(demo_endpoint), "jwt.signature")
    assert result["verdict"] == "pass" and "HS256" in result["message"]


def test_signature_fails_with_another_secret(demo_endpoint: Endpoint) -> None:
    result = one(with_verification_key(demo_endpoint, "x" * 40), "jwt.signature")
    assert result["verdict"] == "fail" and "does not verify" in result["message"]


def test_signature_fails_for_alg_none_even_with_a_key(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(jwt_alg_none=True)
    result = one(with_verification_key(demo_endpoint), "jwt.signature")
    assert result["verdict"] == "fail" and "'none'" in result["message"]


def test_signature_refuses_hmac_with_a_public_key(demo_endpoint: Endpoint) -> None:
    """The algorithm confusion attack: HS256 'signed' with the public key must not pass."""
    public_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    result = one(with_verification_key(demo_endpoint, public_pem), "jwt.signature")
    assert result["verdict"] == "fail" and "not accepted with the PEM" in result["message"]


def jwks_server(key: str) -> Any:
    document = {"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": b64url(key)}]}

    def handler(conn: Any, request: Any, server: Any) -> bool:
        return respond(conn, 200, json.dumps(document).encode(), Content_Type="application/json")

    return serving(handler)


def b64url(text: str) -> str:
    return jwt.utils.base64url_encode(text.encode()).decode()


@pytest.mark.parametrize(("key", "verdict"), [(DEV_SIGNING_KEY, "pass"), ("y" * 40, "fail")])
def test_signature_with_a_jwks_fetched_through_the_outbound_edge(
    demo_endpoint: Endpoint, key: str, verdict: str
) -> None:
    with jwks_server(key) as server:
        allow(demo_endpoint, server)
        auth = demo_endpoint.customer_auth
        auth.jwks_url = server.url("/.well-known/jwks.json")
        auth.save()
        result = one(demo_endpoint.environment, "jwt.signature")
    assert result["verdict"] == verdict
    assert result["evidence"]["jwks"]["keys"] == [
        {"kid": "k1", "kty": "oct", "alg": "HS256", "use": ""}
    ]
    assert len(server.requests) == 1


def test_a_jwks_url_the_address_policy_refuses_is_never_fetched(demo_endpoint: Endpoint) -> None:
    with jwks_server(DEV_SIGNING_KEY) as server:
        auth = demo_endpoint.customer_auth
        auth.jwks_url = server.url("/jwks.json")  # not allow-listed: a loopback address
        auth.save()
        result = one(demo_endpoint.environment, "jwt.signature")
    assert result["verdict"] == "fail" and "refused" in result["message"]
    assert server.requests == []


def test_identifier_location_none_needs_no_identifier(demo_endpoint: Endpoint) -> None:
    demo_endpoint.identifier_location = IdentifierLocation.NONE
    demo_endpoint.save()
    result = one(demo_endpoint.environment, "endpoint.requires_identifier")
    assert result["verdict"] == "not_applicable"
