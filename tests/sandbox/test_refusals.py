"""Every missing, wrong or expired credential is refused with the right status and code."""

import base64
import http.client
from urllib.parse import urlsplit

import pytest
import requests

from sandbox import RunningSandbox, start_sandbox
from tests.helpers import wait_until
from tests.sandbox.helpers import (
    CLIENT_ID,
    TIMEOUT,
    customer_jwt,
    fetch_access_token,
    get_profile,
    log_in,
    request_token,
)

# --- customer_authenticate ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong"), ("mallory", "alice-password"), ("alice", "bob-password")],
)
def test_it_refuses_wrong_user_credentials(
    sandbox: RunningSandbox, username: str, password: str
) -> None:
    response = log_in(sandbox.url, username, password)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"
    assert "JWT" not in response.json()


def test_it_names_missing_login_fields(sandbox: RunningSandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/auth/customer_authenticate", data={"username": "alice"}, timeout=TIMEOUT
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "password" in response.json()["error_description"]


# --- access_token ---------------------------------------------------------------------------


def test_it_refuses_a_wrong_client_secret(sandbox: RunningSandbox) -> None:
    response = request_token(sandbox.url, client_secret="nope")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" not in response.headers


def test_it_refuses_missing_client_credentials(sandbox: RunningSandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/oauth/access_token?grant_type=client_credentials", timeout=TIMEOUT
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "missing" in response.json()["error_description"]


def test_it_challenges_wrong_basic_credentials(sandbox: RunningSandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/oauth/access_token",
        auth=(CLIENT_ID, "nope"),
        data={"grant_type": "client_credentials"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"] == 'Basic realm="sandbox"'


def test_it_refuses_basic_credentials_that_are_not_base64(sandbox: RunningSandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/oauth/access_token",
        headers={"Authorization": "Basic !!!"},
        data={"grant_type": "client_credentials"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_it_refuses_two_client_authentication_methods_at_once(sandbox: RunningSandbox) -> None:
    basic = base64.b64encode(b"demo-client:demo-client-secret").decode()
    response = requests.post(
        f"{sandbox.url}/oauth/access_token",
        headers={"Authorization": f"Basic {basic}"},
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-client-secret",
        },
        timeout=TIMEOUT,
    )

    assert response.status_code == 401
    assert "not both" in response.json()["error_description"]


def test_it_requires_a_grant_type(sandbox: RunningSandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/oauth/access_token",
        data={"client_id": "demo-client", "client_secret": "demo-client-secret"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"


def test_it_refuses_other_grant_types(sandbox: RunningSandbox) -> None:
    response = requests.post(
        f"{sandbox.url}/oauth/access_token?grant_type=password",
        data={"client_id": "demo-client", "client_secret": "demo-client-secret"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


# --- getprofile -----------------------------------------------------------------------------


def assert_invalid_token(response: requests.Response, reason: str) -> None:
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert reason in response.json()["error_description"]
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_it_refuses_a_missing_bearer_token(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    del alice_headers["Authorization"]

    assert_invalid_token(get_profile(sandbox.url, alice_headers), "missing")


def test_it_refuses_an_unknown_bearer_token(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    alice_headers["Authorization"] = "Bearer made-up"

    assert_invalid_token(get_profile(sandbox.url, alice_headers), "unknown")


def test_reset_forgets_issued_access_tokens(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.reset()

    assert_invalid_token(get_profile(sandbox.url, alice_headers), "unknown")


def test_it_refuses_an_expired_access_token(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.set_faults(token_lifetime_s=2)
    alice_headers["Authorization"] = f"Bearer {fetch_access_token(sandbox.url)}"
    assert get_profile(sandbox.url, alice_headers).status_code == 200

    wait_until(
        lambda: get_profile(sandbox.url, alice_headers).status_code == 401,
        what="the access token to expire",
    )

    assert_invalid_token(get_profile(sandbox.url, alice_headers), "expired")


def assert_invalid_customer_auth(response: requests.Response, reason: str) -> None:
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_customer_auth"
    assert reason in response.json()["error_description"]


def test_it_refuses_a_missing_customer_jwt(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    del alice_headers["customer-auth"]

    assert_invalid_customer_auth(get_profile(sandbox.url, alice_headers), "missing")


def test_it_refuses_a_customer_auth_header_without_the_jwt_scheme(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    alice_headers["customer-auth"] = alice_headers["customer-auth"].removeprefix("JWT ")

    assert_invalid_customer_auth(get_profile(sandbox.url, alice_headers), "JWT <token>")


def test_it_refuses_a_tampered_customer_jwt(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    bob_claims = customer_jwt(sandbox.url, "bob").split(".")[1]
    header, _, alice_signature = alice_headers["customer-auth"].split(".")
    alice_headers["customer-auth"] = f"{header}.{bob_claims}.{alice_signature}"

    assert_invalid_customer_auth(get_profile(sandbox.url, alice_headers), "signature")


def test_it_refuses_a_jwt_signed_with_another_key(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    with start_sandbox(signing_key="another-signing-key-of-at-least-32-bytes!") as other:
        alice_headers["customer-auth"] = f"JWT {customer_jwt(other.url)}"

    assert_invalid_customer_auth(get_profile(sandbox.url, alice_headers), "signature")


def test_it_refuses_an_expired_customer_jwt(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.set_faults(token_lifetime_s=1)
    alice_headers["customer-auth"] = f"JWT {customer_jwt(sandbox.url)}"
    sandbox.set_faults(token_lifetime_s=3600)  # keep the access token alive meanwhile
    alice_headers["Authorization"] = f"Bearer {fetch_access_token(sandbox.url)}"

    wait_until(
        lambda: get_profile(sandbox.url, alice_headers).status_code == 401,
        what="the customer JWT to expire",
    )

    assert_invalid_customer_auth(get_profile(sandbox.url, alice_headers), "expired")


def test_it_refuses_a_missing_api_key(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    del alice_headers["api-key"]
    response = get_profile(sandbox.url, alice_headers)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_api_key"
    assert "missing" in response.json()["error_description"]


def test_it_refuses_a_wrong_api_key(sandbox: RunningSandbox, alice_headers: dict[str, str]) -> None:
    alice_headers["api-key"] = "nope"
    response = get_profile(sandbox.url, alice_headers)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_api_key"
    assert "wrong" in response.json()["error_description"]


def test_it_requires_a_json_content_type(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    alice_headers["content-type"] = "text/plain"
    response = get_profile(sandbox.url, alice_headers)

    assert response.status_code == 415
    assert "application/json" in response.json()["error_description"]


def test_it_answers_unknown_routes_with_404_and_wrong_methods_with_405(
    sandbox: RunningSandbox,
) -> None:
    missing = requests.get(f"{sandbox.url}/nope", timeout=TIMEOUT)
    wrong_method = requests.get(f"{sandbox.url}/account/getprofile", timeout=TIMEOUT)

    assert missing.status_code == 404
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"


def test_it_refuses_a_chunked_request_body_and_closes_the_connection(
    sandbox: RunningSandbox,
) -> None:
    response = requests.post(
        f"{sandbox.url}/auth/customer_authenticate",
        data=iter([b"username=alice&", b"password=alice-password"]),
        timeout=TIMEOUT,
    )

    assert response.status_code == 411
    assert response.headers["Connection"] == "close"


def test_it_refuses_a_request_body_over_one_megabyte(sandbox: RunningSandbox) -> None:
    # Only the headers are sent: the sandbox must refuse on the declared length alone.
    parts = urlsplit(sandbox.url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=TIMEOUT)
    connection.putrequest("POST", "/_sandbox/faults")
    connection.putheader("Content-Length", str(1024 * 1024 + 1))
    connection.endheaders()
    response = connection.getresponse()
    connection.close()

    assert response.status == 413
