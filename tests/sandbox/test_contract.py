"""The guide's three requests, answered the way the guide's examples show."""

import base64
import http.client
import json
import time
from urllib.parse import urlsplit

import jwt
import pytest
import requests

from sandbox import RunningSandbox, start_sandbox
from tests.sandbox.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    TIMEOUT,
    customer_jwt,
    get_profile,
    log_in,
    request_token,
)


def test_it_answers_customer_authenticate_as_the_guide_shows(sandbox: RunningSandbox) -> None:
    response = log_in(sandbox.url, "alice", "alice-password")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"issued_at", "JWT", "expires_in"}
    assert body["expires_in"] == "28799"
    assert isinstance(body["issued_at"], str)
    assert abs(int(body["issued_at"]) - time.time() * 1000) < 60_000


def test_it_signs_the_jwt_with_hs256_and_the_documented_claims(sandbox: RunningSandbox) -> None:
    token = customer_jwt(sandbox.url)

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token, sandbox.config.signing_key, algorithms=["HS256"], issuer="sandbox-customer-api"
    )
    assert set(claims) == {"sub", "iat", "exp", "jti", "iss"}
    assert claims["exp"] - claims["iat"] == 28799


def test_it_answers_access_token_as_the_guide_shows(sandbox: RunningSandbox) -> None:
    response = request_token(sandbox.url)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert list(body) == [
        "token_type",
        "issued_at",
        "client_id",
        "access_token",
        "scope",
        "expires_in",
    ]
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "client_credentials"
    assert body["client_id"] == CLIENT_ID
    assert body["expires_in"] == "28799"
    assert body["issued_at"].isdigit()
    assert len(body["access_token"]) >= 32


def test_it_issues_a_different_access_token_each_time(sandbox: RunningSandbox) -> None:
    first = request_token(sandbox.url).json()["access_token"]
    second = request_token(sandbox.url).json()["access_token"]

    assert first != second


def test_it_accepts_http_basic_client_authentication(sandbox: RunningSandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/oauth/access_token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 200
    assert response.json()["client_id"] == CLIENT_ID


def test_it_decodes_form_encoded_basic_credentials() -> None:
    # RFC 6749 2.3.1: id and secret are form-encoded before base64, so ":" and " " survive.
    with start_sandbox(client_secret="s3cret with:colon") as other:
        encoded = base64.b64encode(b"demo-client:s3cret+with%3Acolon").decode()
        response = requests.post(
            f"{other.url}/oauth/access_token",
            headers={"Authorization": f"Basic {encoded}"},
            data={"grant_type": "client_credentials"},
            timeout=TIMEOUT,
        )

    assert response.status_code == 200


def test_it_answers_getprofile_with_the_profile_of_the_jwt_user(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    response = get_profile(sandbox.url, alice_headers)

    assert response.status_code == 200
    profile = response.json()
    assert profile["first_name"] == "Alice"
    assert profile["balance"] == {"amount": "42.10", "currency": "USD"}
    assert profile["orders"]
    claims = jwt.decode(
        alice_headers["customer-auth"].removeprefix("JWT "),
        options={"verify_signature": False},
    )
    assert profile["customer_id"] == claims["sub"]


def test_it_answers_each_user_with_their_own_profile(sandbox: RunningSandbox) -> None:
    token = request_token(sandbox.url).json()["access_token"]
    names = []
    for username in ("alice", "bob"):
        headers = {
            "Authorization": f"Bearer {token}",
            "customer-auth": f"JWT {customer_jwt(sandbox.url, username)}",
            "content-type": "application/json",
            "api-key": "demo-api-key",
        }
        names.append(get_profile(sandbox.url, headers).json()["first_name"])

    assert names == ["Alice", "Bob"]


def test_the_customer_id_is_opaque_and_stable_per_user(sandbox: RunningSandbox) -> None:
    def subject(username: str) -> str:
        token = customer_jwt(sandbox.url, username)
        return str(jwt.decode(token, options={"verify_signature": False})["sub"])

    first_alice, second_alice, bob = subject("alice"), subject("alice"), subject("bob")

    assert first_alice == second_alice
    assert first_alice != bob
    assert "alice" not in first_alice
    assert len(first_alice) == 64 and int(first_alice, 16) >= 0


def test_two_logins_get_different_jwts(sandbox: RunningSandbox) -> None:
    assert customer_jwt(sandbox.url) != customer_jwt(sandbox.url)


def test_it_keeps_connections_alive_between_requests(sandbox: RunningSandbox) -> None:
    parts = urlsplit(sandbox.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT)
    sockets = []
    for _ in range(3):
        connection.request("GET", "/_sandbox/stats")
        answer = connection.getresponse()
        assert answer.status == 200
        assert json.loads(answer.read())["token_requests"] == 0
        sockets.append(connection.sock)
    connection.close()

    assert sockets[0] is not None
    assert sockets[0] is sockets[1] is sockets[2]


def test_stopping_closes_kept_alive_connections() -> None:
    running = start_sandbox()
    with requests.Session() as session:
        assert session.get(f"{running.url}/_sandbox/stats", timeout=TIMEOUT).status_code == 200

        running.stop()

        with pytest.raises(requests.ConnectionError):
            session.get(f"{running.url}/_sandbox/stats", timeout=TIMEOUT)
