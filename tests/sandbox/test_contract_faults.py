"""The contract fault knobs: each breaks one requirement of the guide, over a real socket."""

import jwt
import pytest

from sandbox import RunningSandbox
from sandbox.faults import Faults, KnobError
from tests.sandbox.helpers import (
    API_KEY,
    customer_jwt,
    fetch_access_token,
    get_profile,
    log_in,
    profile_headers,
    request_token,
)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def profile_status(sandbox: RunningSandbox, jwt_token: str) -> int:
    headers = profile_headers(access_token=fetch_access_token(sandbox.url), jwt=jwt_token)
    return get_profile(sandbox.url, headers).status_code


def test_jwt_pii_email_adds_an_email_claim_and_the_token_still_works(
    sandbox: RunningSandbox,
) -> None:
    sandbox.set_faults(jwt_pii="email")
    token = customer_jwt(sandbox.url)

    claims = claims_of(token)
    assert claims["email"] == "alice@example.com"
    assert "@" not in claims["sub"]
    assert profile_status(sandbox, token) == 200


def test_jwt_pii_sub_makes_the_email_address_the_subject(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(jwt_pii="sub")
    token = customer_jwt(sandbox.url, "bob")

    assert claims_of(token)["sub"] == "bob@example.com"
    headers = profile_headers(access_token=fetch_access_token(sandbox.url), jwt=token)
    assert get_profile(sandbox.url, headers).json()["first_name"] == "Bob"


def test_identity_per_login_gives_every_login_a_new_subject(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(identity_per_login=True)
    first, second = customer_jwt(sandbox.url), customer_jwt(sandbox.url)

    assert claims_of(first)["sub"] != claims_of(second)["sub"]
    assert profile_status(sandbox, first) == 200
    assert profile_status(sandbox, second) == 200


def test_reset_forgets_the_subjects_issued_per_login(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(identity_per_login=True)
    token = customer_jwt(sandbox.url)
    sandbox.reset()

    assert profile_status(sandbox, token) == 401


def test_shared_identity_gives_every_user_the_same_subject(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(shared_identity=True)

    alice, bob = customer_jwt(sandbox.url, "alice"), customer_jwt(sandbox.url, "bob")

    assert claims_of(alice)["sub"] == claims_of(bob)["sub"]


def test_jwt_alg_none_issues_unsigned_tokens_and_accepts_them(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(jwt_alg_none=True)
    token = customer_jwt(sandbox.url)

    assert jwt.get_unverified_header(token)["alg"] == "none"
    assert token.endswith(".")
    assert profile_status(sandbox, token) == 200


def test_omit_expires_in_drops_it_from_login_and_token_answers(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(omit_expires_in=True)

    login = log_in(sandbox.url, "alice", "alice-password").json()
    token = request_token(sandbox.url).json()

    assert "expires_in" not in login and "JWT" in login and "issued_at" in login
    assert "expires_in" not in token and "access_token" in token


def test_jwt_exp_skew_moves_exp_away_from_expires_in(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(jwt_exp_skew_s=-600, token_lifetime_s=3600)
    answer = log_in(sandbox.url, "alice", "alice-password").json()

    claims = claims_of(answer["JWT"])
    assert answer["expires_in"] == "3600"
    assert claims["exp"] - claims["iat"] == 3000


@pytest.mark.parametrize(
    ("credential", "header"),
    [("bearer", "Authorization"), ("api_key", "api-key"), ("customer_auth", "customer-auth")],
)
def test_accept_missing_answers_a_call_without_that_credential(
    sandbox: RunningSandbox, alice_headers: dict[str, str], credential: str, header: str
) -> None:
    without = {k: v for k, v in alice_headers.items() if k != header}
    assert get_profile(sandbox.url, without).status_code in (401, 403)

    sandbox.set_faults(accept_missing=[credential])

    assert get_profile(sandbox.url, without).status_code == 200


def test_accept_missing_api_key_also_accepts_a_wrong_one(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.set_faults(accept_missing=["api_key"])

    response = get_profile(sandbox.url, {**alice_headers, "api-key": API_KEY + "-wrong"})

    assert response.status_code == 200


def test_token_endpoint_lenient_token_issues_a_token_for_a_wrong_secret(
    sandbox: RunningSandbox,
) -> None:
    assert request_token(sandbox.url, client_secret="wrong").status_code == 401
    sandbox.set_faults(token_endpoint_lenient="token")

    response = request_token(sandbox.url, client_secret="wrong")

    assert response.status_code == 200 and response.json()["access_token"]


def test_token_endpoint_lenient_500_fails_on_a_wrong_secret_only(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(token_endpoint_lenient="500")

    assert request_token(sandbox.url, client_secret="wrong").status_code == 500
    assert request_token(sandbox.url).status_code == 200


@pytest.mark.parametrize(
    "knobs",
    [
        {"jwt_pii": "phone"},
        {"accept_missing": ["client"]},
        {"accept_missing": "bearer"},
        {"jwt_exp_skew_s": True},
        {"jwt_exp_skew_s": 1.5},
        {"token_endpoint_lenient": "maybe"},
        {"identity_per_login": "true"},
    ],
)
def test_contract_knobs_refuse_values_they_cannot_take(knobs: dict) -> None:
    with pytest.raises(KnobError, match=next(iter(knobs))):
        Faults().merged(knobs)


def test_contract_knobs_are_off_by_default_and_listed_as_json(sandbox: RunningSandbox) -> None:
    faults = sandbox.set_faults(accept_missing=["bearer", "bearer"])

    assert faults["accept_missing"] == ["bearer"]
    assert faults["jwt_pii"] is None and faults["token_endpoint_lenient"] is None
    assert not faults["jwt_alg_none"] and faults["jwt_exp_skew_s"] == 0
