"""Knobs that make the sandbox a customer unlike the guide: web logins, sign-in walls."""

from __future__ import annotations

import requests

from sandbox import RunningSandbox
from tests.sandbox.helpers import API_KEY, TIMEOUT, fetch_access_token, log_in


def profile_with_cookie(url: str, cookie: str) -> requests.Response:
    headers = {
        "Authorization": f"Bearer {fetch_access_token(url)}",
        "api-key": API_KEY,
        "content-type": "application/json",
        "Cookie": f"session={cookie}",
    }
    return requests.post(f"{url}/account/getprofile", headers=headers, timeout=TIMEOUT)


def session_cookie(response: requests.Response) -> str:
    return response.headers["Set-Cookie"].split(";", 1)[0].removeprefix("session=")


def test_opaque_sessions_are_random_ids_that_resolve_to_the_same_customer(
    sandbox: RunningSandbox,
) -> None:
    sandbox.set_faults(auth_mode="cookie", session_cookie="opaque")

    first = session_cookie(log_in(sandbox.url, "alice", "alice-password"))
    second = session_cookie(log_in(sandbox.url, "alice", "alice-password"))

    assert first != second and first.count(".") == 0  # not a JWT
    profiles = [profile_with_cookie(sandbox.url, value).json() for value in (first, second)]
    assert profiles[0]["customer_id"] == profiles[1]["customer_id"]
    assert profiles[0]["first_name"] == "Alice"


def test_an_opaque_session_the_sandbox_never_issued_is_refused(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(auth_mode="cookie", session_cookie="opaque")

    response = profile_with_cookie(sandbox.url, "made-up-session-id")

    assert response.status_code == 401
    assert "names no session this server knows" in response.json()["error_description"]


def test_opaque_sessions_are_forgotten_on_reset(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(auth_mode="cookie", session_cookie="opaque")
    cookie = session_cookie(log_in(sandbox.url, "alice", "alice-password"))

    sandbox.reset()
    sandbox.set_faults(auth_mode="cookie", session_cookie="opaque")

    assert profile_with_cookie(sandbox.url, cookie).status_code == 401


def test_per_login_identities_show_in_the_profile_of_each_session(sandbox: RunningSandbox) -> None:
    sandbox.set_faults(auth_mode="cookie", session_cookie="opaque", identity_per_login=True)

    cookies = [session_cookie(log_in(sandbox.url, "alice", "alice-password")) for _ in range(2)]

    ids = {profile_with_cookie(sandbox.url, cookie).json()["customer_id"] for cookie in cookies}
    assert len(ids) == 2


def test_a_web_login_answers_a_page_and_puts_the_lifetime_on_the_cookie(
    sandbox: RunningSandbox,
) -> None:
    sandbox.set_faults(auth_mode="cookie", login_html=True, token_lifetime_s=600)

    response = log_in(sandbox.url, "alice", "alice-password")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")
    assert "; Max-Age=600" in response.headers["Set-Cookie"]
    assert profile_with_cookie(sandbox.url, session_cookie(response)).status_code == 200


def test_html_ok_answers_a_sign_in_page_with_200_before_any_credential_check(
    sandbox: RunningSandbox,
) -> None:
    sandbox.set_faults(html_ok=True)

    response = requests.post(f"{sandbox.url}/account/getprofile", timeout=TIMEOUT)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<title>Sign in</title>" in response.text
