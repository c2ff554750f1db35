"""Each fault knob is observable over a real socket."""

import json
import time

import jwt
import pytest
import requests

from sandbox import RunningSandbox, start_sandbox
from tests.sandbox.helpers import (
    TIMEOUT,
    customer_jwt,
    get_profile,
    log_in,
    request_token,
)


def test_latency_delays_api_routes_but_not_the_control_routes(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(latency_ms=300)

    started = time.monotonic()
    assert request_token(sandbox.url).status_code == 200
    delayed = time.monotonic() - started
    started = time.monotonic()
    requests.get(f"{sandbox.url}/_sandbox/stats", timeout=TIMEOUT)
    control = time.monotonic() - started

    assert delayed >= 0.3
    assert control < 0.3


def test_error_rate_one_answers_every_business_call_with_error_status(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.set_faults(error_rate=1.0)
    default_status = get_profile(sandbox.url, alice_headers)
    sandbox.set_faults(error_status=500)
    chosen_status = get_profile(sandbox.url, alice_headers)

    assert default_status.status_code == 503
    assert default_status.json()["error"] == "server_error"
    assert chosen_status.status_code == 500


def test_error_rate_leaves_the_login_and_token_routes_alone(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(error_rate=1.0)

    assert request_token(sandbox.url).status_code == 200
    assert log_in(sandbox.url, "alice", "alice-password").status_code == 200


def test_malformed_json_answers_200_with_a_body_that_does_not_parse(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.set_faults(malformed_json=True)

    response = get_profile(sandbox.url, alice_headers)

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.text.startswith('{"customer_id"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_body_faults_still_require_the_credentials(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(malformed_json=True)

    response = get_profile(sandbox.url, {"content-type": "application/json"})

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_oversized_body_answers_exactly_that_many_bytes(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.set_faults(oversized_body_bytes=3_000_000)

    response = get_profile(sandbox.url, alice_headers)

    assert response.status_code == 200
    assert response.headers["Content-Length"] == "3000000"
    assert len(response.content) == 3_000_000
    assert response.content.startswith(b'{"padding": "xxx')


def test_token_lifetime_sets_expires_in_and_the_jwt_expiry(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(token_lifetime_s=60)

    login = log_in(sandbox.url, "alice", "alice-password").json()
    claims = jwt.decode(login["JWT"], options={"verify_signature": False})

    assert login["expires_in"] == "60"
    assert claims["exp"] - claims["iat"] == 60
    assert request_token(sandbox.url).json()["expires_in"] == "60"


def test_rfc_token_style_answers_an_integer_expires_in_without_issued_at(
    sandbox: RunningSandbox,
) -> None:
    sandbox.set_faults(token_response_style="rfc")

    body = request_token(sandbox.url).json()

    assert body["expires_in"] == 28799
    assert "issued_at" not in body
    assert body["token_type"] == "Bearer"
    assert body["access_token"]


def test_reject_client_refuses_the_right_client_credentials(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(reject=["client"])

    response = request_token(sandbox.url)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_reject_user_refuses_the_right_password(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(reject=["user"])

    response = log_in(sandbox.url, "alice", "alice-password")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"


@pytest.mark.parametrize(
    ("credential", "status", "error"),
    [
        ("bearer", 401, "invalid_token"),
        ("customer_auth", 401, "invalid_customer_auth"),
        ("api_key", 403, "invalid_api_key"),
    ],
)
def test_reject_refuses_the_right_business_credentials(
    sandbox: RunningSandbox,
    alice_headers: dict[str, str],
    credential: str,
    status: int,
    error: str,
) -> None:
    sandbox.set_faults(reject=[credential])

    response = get_profile(sandbox.url, alice_headers)

    assert response.status_code == status
    assert response.json()["error"] == error


def test_drip_sends_the_business_body_slowly_but_whole(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    size = len(get_profile(sandbox.url, alice_headers).content)
    sandbox.set_faults(drip_bytes_per_s=size * 2)  # about half a second for the whole body

    started = time.monotonic()
    response = get_profile(sandbox.url, alice_headers, stream=True)
    headers_after = time.monotonic() - started
    arrivals, pieces = [], []
    for piece in response.iter_content(chunk_size=16):
        arrivals.append(time.monotonic() - started)
        pieces.append(piece)

    assert headers_after < 0.3
    assert arrivals[-1] - arrivals[0] >= 0.3  # the body trickled in over time
    assert json.loads(b"".join(pieces))["first_name"] == "Alice"


def test_endless_body_streams_until_the_client_hangs_up(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.set_faults(endless_body=True)

    with get_profile(sandbox.url, alice_headers, stream=True) as response:
        received = 0
        for piece in response.iter_content(chunk_size=64 * 1024):
            received += len(piece)
            if received > 5_000_000:
                break
        headers = response.headers

    assert headers["Transfer-Encoding"] == "chunked"
    assert "Content-Length" not in headers
    assert received > 5_000_000
    sandbox.reset()
    assert get_profile(sandbox.url, alice_headers).status_code == 401  # alive; tokens cleared


def test_html_error_answers_502_with_an_html_page_before_any_credential_check(
    sandbox: RunningSandbox,
) -> None:
    sandbox.set_faults(html_error=True)

    response = get_profile(sandbox.url, {})

    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


def test_reset_connection_drops_the_connection_without_an_answer(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.set_faults(reset_connection=True)

    with pytest.raises(requests.ConnectionError):
        get_profile(sandbox.url, alice_headers)
    sandbox.set_faults(reset_connection=False)
    assert get_profile(sandbox.url, alice_headers).status_code == 200


def test_status_429_answers_with_retry_after(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.set_faults(status_429_retry_after=7)

    response = get_profile(sandbox.url, alice_headers)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"] == "rate_limited"


def test_redirect_answers_302_to_the_configured_url(
    sandbox: RunningSandbox, alice_headers: dict[str, str]
) -> None:
    sandbox.set_faults(redirect_to="http://169.254.169.254/latest/meta-data/")

    response = get_profile(sandbox.url, alice_headers, allow_redirects=False)

    assert response.status_code == 302
    assert response.headers["Location"] == "http://169.254.169.254/latest/meta-data/"


def test_knobs_set_at_start_are_what_reset_returns_to() -> None:
    with start_sandbox(faults={"status_429_retry_after": 3}) as faulty:
        faulty.set_faults(status_429_retry_after=None)
        faulty.reset()

        response = get_profile(faulty.url, {})

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"


def test_faults_persist_until_reset(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(token_response_style="rfc")
    assert isinstance(request_token(sandbox.url).json()["expires_in"], int)

    sandbox.reset()

    assert request_token(sandbox.url).json()["expires_in"] == "28799"
    assert customer_jwt(sandbox.url)
