"""The guide's requests, written once for the sandbox tests."""

from typing import Any

import requests

CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-client-secret"
API_KEY = "demo-api-key"
TIMEOUT = 10


def log_in(url: str, username: str, password: str) -> requests.Response:
    """POST /auth/customer_authenticate as the guide's curl does."""
    return requests.post(
        f"{url}/auth/customer_authenticate",
        headers={"cache-control": "no-cache"},
        data={"username": username, "password": password},
        timeout=TIMEOUT,
    )


def request_token(
    url: str, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET
) -> requests.Response:
    """POST /oauth/access_token guide style: grant_type in the query, credentials in the form."""
    return requests.post(
        f"{url}/oauth/access_token?grant_type=client_credentials",
        headers={"cache-control": "no-cache"},
        data={"client_id": client_id, "client_secret": client_secret},
        timeout=TIMEOUT,
    )


def fetch_access_token(url: str) -> str:
    """A fresh, valid access token."""
    response = request_token(url)
    response.raise_for_status()
    return str(response.json()["access_token"])


def customer_jwt(url: str, username: str = "alice") -> str:
    """A fresh JWT for one of the default test users."""
    response = log_in(url, username, f"{username}-password")
    response.raise_for_status()
    return str(response.json()["JWT"])


def profile_headers(*, access_token: str, jwt: str) -> dict[str, str]:
    """The four headers of the guide's getprofile call."""
    return {
        "Authorization": f"Bearer {access_token}",
        "customer-auth": f"JWT {jwt}",
        "content-type": "application/json",
        "api-key": API_KEY,
    }


def get_profile(url: str, headers: dict[str, str], **kwargs: Any) -> requests.Response:
    """POST /account/getprofile with the given headers."""
    return requests.post(f"{url}/account/getprofile", headers=headers, timeout=TIMEOUT, **kwargs)
