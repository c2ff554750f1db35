"""The three routes of the customer API integration guide.

- ``POST /auth/customer_authenticate``: test user logs in, gets a JWT (or a session cookie).
- ``POST /oauth/access_token``: client credentials grant, gets an opaque access token.
- ``POST /account/getprofile``: the business call, needs both plus the API key.
"""

from __future__ import annotations

import binascii
import hmac
import secrets
import time
from base64 import b64decode
from urllib.parse import unquote_plus

from sandbox import misbehaviour
from sandbox.credentials import CredentialError, customer_id, jwt_issue, jwt_subject
from sandbox.faults import Faults
from sandbox.messages import JSON, Request, Response, error_response, json_response
from sandbox.profiles import profile_for
from sandbox.state import SandboxState

# RFC 6749 5.1/5.2: token responses and their errors must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SESSION_COOKIE = "session"
LOGGED_IN_PAGE = b"<!DOCTYPE html><html><body><p>You are signed in.</p></body></html>\n"


def same(given: str, expected: str) -> bool:
    """Constant-time comparison, so the sandbox does not teach timing leaks by example."""
    return hmac.compare_digest(given.encode(), expected.encode())


def epoch_ms() -> str:
    """Now as epoch milliseconds in a string, as the guide's ``issued_at`` shows."""
    return str(int(time.time() * 1000))


# --- POST /auth/customer_authenticate -------------------------------------------------------


def customer_authenticate(state: SandboxState, request: Request, faults: Faults) -> Response:
    """Check a test user's form login and answer with a JWT, or a cookie in cookie mode."""
    form = request.form()
    missing = [name for name in ("username", "password") if not form.get(name)]
    if missing:
        description = f"missing form field(s): {', '.join(missing)}"
        return error_response(400, "invalid_request", description, NO_STORE)
    username = form["username"]
    expected = state.config.users.get(username)
    if expected is None or not same(form["password"], expected) or faults.rejects("user"):
        description = "username or password is wrong"
        return error_response(401, "invalid_credentials", description, NO_STORE)
    token = jwt_issue(
        username=username,
        signing_key=state.config.signing_key,
        lifetime_s=faults.token_lifetime_s,
        subject=customer_subject(state, username, faults),
        extra_claims={"email": email_of(username)} if faults.jwt_pii == "email" else None,
        exp_skew_s=faults.jwt_exp_skew_s,
        unsigned=faults.jwt_alg_none,
    )
    return login_response(state, token, faults)


def email_of(username: str) -> str:
    """The made-up e-mail address the ``jwt_pii`` knob leaks into JWTs."""
    return f"{username}@example.com"


def customer_subject(state: SandboxState, username: str, faults: Faults) -> str | None:
    """The JWT ``sub`` the identity knobs ask for; None means the opaque, stable default."""
    if faults.shared_identity:
        return customer_id(username=state.first_username(), signing_key=state.config.signing_key)
    subject = None
    if faults.jwt_pii == "sub":
        subject = email_of(username)
    elif faults.identity_per_login:
        subject = customer_id(username=f"{username}#{secrets.token_hex(8)}", signing_key="login")
    if subject is not None:
        state.remember_subject(subject, username)
    return subject


def login_response(state: SandboxState, token: str, faults: Faults) -> Response:
    """The guide's login answer; in cookie mode the JWT travels as a session cookie instead."""
    payload = {"issued_at": epoch_ms(), "JWT": token, "expires_in": str(faults.token_lifetime_s)}
    if faults.omit_expires_in:
        del payload["expires_in"]
    if faults.auth_mode != "cookie":
        return json_response(200, payload, NO_STORE)
    del payload["JWT"]
    value = state.session_open(token) if faults.session_cookie == "opaque" else token
    cookie = f"{SESSION_COOKIE}={value}; Path=/; HttpOnly"
    if faults.login_html:
        # A web login: a page for the browser, the session's lifetime in the cookie.
        cookie += f"; Max-Age={faults.token_lifetime_s}"
        headers = {**NO_STORE, "Content-Type": "text/html; charset=utf-8", "Set-Cookie": cookie}
        return Response(200, headers, LOGGED_IN_PAGE)
    return json_response(200, payload, {**NO_STORE, "Set-Cookie": cookie})


# --- POST /oauth/access_token ---------------------------------------------------------------


def access_token(state: SandboxState, request: Request, faults: Faults) -> Response:
    """The client credentials grant, guide style (form fields) or RFC style (HTTP Basic)."""
    form = request.form()
    used_basic = (request.header("authorization") or "").lower().startswith("basic ")
    try:
        client_id = client_authenticate(state, request, form, faults)
    except CredentialError as error:
        if faults.token_endpoint_lenient == "500":
            return error_response(500, "server_error", "internal error", NO_STORE)
        if faults.token_endpoint_lenient != "token":
            challenge = {"WWW-Authenticate": 'Basic realm="sandbox"'} if used_basic else {}
            return error_response(401, "invalid_client", str(error), {**NO_STORE, **challenge})
        client_id = form.get("client_id") or state.config.client_id
    grant_type = request.query_value("grant_type") or form.get("grant_type")
    if not grant_type:
        description = "grant_type is missing; send grant_type=client_credentials"
        return error_response(400, "invalid_request", description, NO_STORE)
    if grant_type != "client_credentials":
        description = f"grant_type {grant_type!r} is not supported; use client_credentials"
        return error_response(400, "unsupported_grant_type", description, NO_STORE)
    token = state.tokens.issue(client_id=client_id, lifetime_s=faults.token_lifetime_s)
    return json_response(200, token_payload(token.value, client_id, faults), NO_STORE)


def client_authenticate(
    state: SandboxState, request: Request, form: dict[str, str], faults: Faults
) -> str:
    """Return the authenticated client id or raise :class:`CredentialError` saying why."""
    basic = basic_credentials(request.header("authorization"))
    if basic and (form.get("client_id") or form.get("client_secret")):
        raise CredentialError("send client credentials either in HTTP Basic or the form, not both")
    client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
    if not client_id or not client_secret:
        raise CredentialError(
            "client_id and client_secret are missing; send them as form fields or HTTP Basic"
        )
    config = state.config
    right = same(client_id, config.client_id) and same(client_secret, config.client_secret)
    if not right or faults.rejects("client"):
        raise CredentialError("client_id or client_secret is wrong")
    return client_id


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """Decode ``Basic base64(id:secret)``; RFC 6749 2.3.1 form-encodes both parts first."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise CredentialError("the HTTP Basic credentials are not valid base64") from None
    client_id, separator, client_secret = decoded.partition(":")
    if not separator:
        raise CredentialError("the HTTP Basic credentials must read client_id:client_secret")
    return unquote_plus(client_id), unquote_plus(client_secret)


def token_payload(token: str, client_id: str, faults: Faults) -> dict[str, object]:
    """The token answer in the guide's shape (strings) or the RFC's (integer expires_in)."""
    payload = token_payload_shaped(token, client_id, faults)
    if faults.omit_expires_in:
        del payload["expires_in"]
    if faults.token_field:
        payload[faults.token_field] = payload.pop("access_token")
    payload["token_type"] = faults.token_type
    return payload


def token_payload_shaped(token: str, client_id: str, faults: Faults) -> dict[str, object]:
    if faults.token_response_style == "rfc":
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": faults.token_lifetime_s,
            "scope": "client_credentials",
            "client_id": client_id,
        }
    return {
        "token_type": "Bearer",
        "issued_at": epoch_ms(),
        "client_id": client_id,
        "access_token": token,
        "scope": "client_credentials",
        "expires_in": str(faults.token_lifetime_s),
    }


# --- POST /account/getprofile ---------------------------------------------------------------


def getprofile(state: SandboxState, request: Request, faults: Faults) -> Response:
    """The business call: gateway faults, then the three credentials, then the profile."""
    gateway_fault = misbehaviour.gateway_fault(faults)
    if gateway_fault is not None:
        return gateway_fault
    refusal = check_bearer(state, request, faults) or check_api_key(state, request, faults)
    if refusal is not None:
        return refusal
    try:
        username, subject = customer_identity(state, request, faults)
    except CredentialError as error:
        if not faults.skips("customer_auth"):
            return error_response(401, "invalid_customer_auth", str(error))
        username = state.first_username()
        subject = customer_id(username=username, signing_key=state.config.signing_key)
    refusal = check_media_type(request)
    if refusal is not None:
        return refusal
    # The profile names the customer the credential resolves to, as a real API would.
    profile = profile_for(username=username, customer_id=subject)
    return misbehaviour.business_answer(profile, faults, state.stopping)


def check_bearer(state: SandboxState, request: Request, faults: Faults) -> Response | None:
    """Refuse a missing, unknown or expired access token (RFC 6750 ``invalid_token``)."""
    if faults.skips("bearer"):
        return None
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise CredentialError(
                "the Authorization header is missing or not 'Bearer <access_token>'"
            )
        state.tokens.check(token.strip())
        if faults.rejects("bearer"):
            raise CredentialError("the access token was refused (sandbox reject knob)")
    except CredentialError as error:
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        return error_response(401, "invalid_token", str(error), challenge)
    return None


def check_api_key(state: SandboxState, request: Request, faults: Faults) -> Response | None:
    """Refuse a missing or wrong ``api-key`` header with 403."""
    if faults.skips("api_key"):
        return None
    key = request.header("api-key")
    if not key:
        return error_response(403, "invalid_api_key", "the api-key header is missing")
    if not same(key, state.config.api_key) or faults.rejects("api_key"):
        return error_response(403, "invalid_api_key", "the api-key header value is wrong")
    return None


def customer_identity(state: SandboxState, request: Request, faults: Faults) -> tuple[str, str]:
    """The test user and the ``sub`` named by the customer JWT (header, or session cookie)."""
    token = customer_token(state, request, faults)
    subject = jwt_subject(
        token=token, signing_key=state.config.signing_key, allow_unsigned=faults.jwt_alg_none
    )
    username = state.username_for(subject)
    if username is None:
        raise CredentialError("the customer JWT names a customer this server does not know")
    if faults.rejects("customer_auth"):
        raise CredentialError("the customer JWT was refused (sandbox reject knob)")
    return username, subject


def customer_token(state: SandboxState, request: Request, faults: Faults) -> str:
    """Take the JWT from ``customer-auth: JWT <token>``, or the session cookie in cookie mode."""
    header = request.header("customer-auth")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.upper() != "JWT" or not token.strip():
            raise CredentialError("the customer-auth header must read 'JWT <token>'")
        return token.strip()
    if faults.auth_mode == "cookie":
        cookie = request.cookie(SESSION_COOKIE)
        if cookie and faults.session_cookie == "opaque":
            return session_jwt(state, cookie)
        if cookie:
            return cookie
        raise CredentialError("the session cookie (or a customer-auth header) is missing")
    raise CredentialError("the customer-auth header is missing; send 'customer-auth: JWT <token>'")


def session_jwt(state: SandboxState, session_id: str) -> str:
    """The JWT behind an opaque session id; an id this server never issued is refused."""
    token = state.session_token(session_id)
    if token is None:
        raise CredentialError("the session cookie names no session this server knows")
    return token


def check_media_type(request: Request) -> Response | None:
    """The guide's call declares ``content-type: application/json``; insist on it."""
    if request.media_type() == JSON:
        return None
    description = "send content-type: application/json (an empty body or {} is fine)"
    return error_response(415, "unsupported_media_type", description)
