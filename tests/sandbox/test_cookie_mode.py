"""Cookie mode: the login sets a signed session cookie that getprofile accepts."""

import requests

from sandbox import RunningSandbox, start_sandbox
from tests.sandbox.helpers import API_KEY, TIMEOUT, fetch_access_token, log_in


def cookie_mode_profile(url: str) -> requests.Response:
    """Log alice in with a cookie jar, then call getprofile with the cookie, not the header."""
    with requests.Session() as browser:
        login = browser.post(
            f"{url}/auth/customer_authenticate",
            data={"username": "alice", "password": "alice-password"},
            timeout=TIMEOUT,
        )
        assert login.status_code == 200
        headers = {
            "Authorization": f"Bearer {fetch_access_token(url)}",
            "api-key": API_KEY,
            "content-type": "application/json",
        }
        return browser.post(f"{url}/account/getprofile", headers=headers, timeout=TIMEOUT)


def test_cookie_mode_login_sets_a_session_cookie_instead_of_returning_a_jwt(
    sandbox: RunningSandbox,
) -> None:
    sandbox.set_faults(auth_mode="cookie")

    response = log_in(sandbox.url, "alice", "alice-password")

    assert response.status_code == 200
    assert set(response.json()) == {"issued_at", "expires_in"}
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert cookie.endswith("; Path=/; HttpOnly")
    assert len(cookie.split(";")[0]) > len("session=") + 20


def test_cookie_mode_end_to_end_over_the_session_cookie(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(auth_mode="cookie")

    response = cookie_mode_profile(sandbox.url)

    assert response.status_code == 200
    assert response.json()["first_name"] == "Alice"


def test_cookie_mode_can_be_the_configured_default() -> None:
    with start_sandbox(auth_mode="cookie") as cookie_sandbox:
        assert cookie_mode_profile(cookie_sandbox.url).status_code == 200


def test_cookie_mode_refuses_a_call_without_the_cookie(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(auth_mode="cookie")
    headers = {
        "Authorization": f"Bearer {fetch_access_token(sandbox.url)}",
        "api-key": API_KEY,
        "content-type": "application/json",
    }

    response = requests.post(f"{sandbox.url}/account/getprofile", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_customer_auth"
    assert "session cookie" in response.json()["error_description"]


def test_cookie_mode_refuses_a_forged_cookie(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(auth_mode="cookie")
    headers = {
        "Authorization": f"Bearer {fetch_access_token(sandbox.url)}",
        "api-key": API_KEY,
        "content-type": "application/json",
        "Cookie": "session=forged",
    }

    response = requests.post(f"{sandbox.url}/account/getprofile", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_customer_auth"


def test_token_mode_ignores_the_session_cookie(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(auth_mode="cookie")
    with requests.Session() as browser:
        browser.post(
            f"{sandbox.url}/auth/customer_authenticate",
            data={"username": "alice", "password": "alice-password"},
            timeout=TIMEOUT,
        )
        sandbox.set_faults(auth_mode="token")
        headers = {
            "Authorization": f"Bearer {fetch_access_token(sandbox.url)}",
            "api-key": API_KEY,
            "content-type": "application/json",
        }
        response = browser.post(
            f"{sandbox.url}/account/getprofile", headers=headers, timeout=TIMEOUT
        )

    assert response.status_code == 401
    assert "customer-auth header is missing" in response.json()["error_description"]
