"""DRF authentication with API tokens: ``Authorization: Token <token>`` (or ``Bearer``).

A wrong token is a failed login: it counts in accounts.throttle's pair (here the presented
token's prefix and the address), address and global counters, with the admin's and
/accounts/login/'s failures. A token names no username, so there is no username count.

- A prefix that failed ``LOGIN_MAX_FAILURES`` times from an address is refused from that
  address, unchecked, until the window ends, even with its right secret: otherwise the
  secret half of a known prefix could be guessed on and the right guess would still pass.
  Other tokens from that address, and this token from any other address, are unaffected.
- A malformed token (no prefix) is counted by a hash of the whole value.
- Once the address or global limit is reached, invalid tokens get 429 instead of 401 (and
  are not counted), so a client spraying prefixes is told to stop; a valid token still
  authenticates. That is no way round the limit: a 256-bit secret cannot be guessed, while
  refusing valid tokens would let one client's failures (or anyone's, at the global
  limit) cut every tool and the platform's runtime calls off the API.
- Only wrong tokens count: a revoked or expired one was presented with its right secret.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.lockouts import lockouts_record, refusal_log
from accounts.models import ApiToken
from accounts.throttle import (
    client_ip,
    failures_exhausted,
    token_attempts_blocked,
    token_failure_record,
)
from accounts.tokens import PREFIX_CHARS, TOKEN_PREFIX, ApiTokenRejected, api_token_check

KEYWORDS = (b"token", b"bearer")


class ApiTokenThrottled(Exception):
    """Too many failed attempts; ``message`` says what to do, ``wait_s`` for how long."""

    def __init__(self, message: str, *, wait_s: int) -> None:
        super().__init__(message)
        self.message = message
        self.wait_s = wait_s


# What a throttled client reads (DRF adds "Expected available in N seconds.").
PRESENTED_BLOCKED = (
    "Too many failed attempts with this API token from your address: it is refused from "
    "here until the window ends. Check that you send the whole token as issued, or ask an "
    "admin for a new one; other tokens still work."
)
FAILURES_EXHAUSTED = (
    "Too many failed logins and API token attempts from your address, or from everyone: "
    "invalid tokens are refused until the window ends. Send a valid token (it still works) "
    "and stop retrying the others."
)


def api_token_authenticate(*, raw: str, ip: str) -> ApiToken:
    """The token ``raw`` names, checked under the failure throttle of address ``ip``.

    Raises ApiTokenThrottled (refused for a while) or ApiTokenRejected (this token is bad).
    """
    presented = _presented(raw)
    wait_s = settings.LOGIN_FAILURE_WINDOW_S
    if token_attempts_blocked(presented=presented, ip=ip):
        refusal_log(scope="pair", label=_label(presented), ip=ip)
        raise ApiTokenThrottled(PRESENTED_BLOCKED, wait_s=wait_s)
    exhausted = failures_exhausted(ip=ip)
    try:
        return api_token_check(raw=raw)
    except ApiTokenRejected as error:
        if error.code != "token_invalid":
            raise
        if exhausted is not None:
            refusal_log(scope=exhausted, label=_label(presented), ip=ip)
            raise ApiTokenThrottled(FAILURES_EXHAUSTED, wait_s=wait_s) from None
        locked = token_failure_record(presented=presented, ip=ip)
        lockouts_record(scopes=locked, label=_label(presented), ip=ip)
        raise


def _presented(raw: str) -> str:
    """What failures of ``raw`` count against: its public prefix, else a hash of it all."""
    body = raw[len(TOKEN_PREFIX) :]
    # The same shape accounts.tokens reads a prefix from; anything else names no token.
    if raw.startswith(TOKEN_PREFIX) and len(body) > PREFIX_CHARS + 1:
        return f"prefix:{body[:PREFIX_CHARS]}"
    return f"sha256:{hashlib.sha256(raw.encode()).hexdigest()}"


def _label(presented: str) -> str:
    """How logs and the audit name a presented token: its public prefix, never a hash of a
    malformed one (that may be a password sent by mistake, and a hash can be cracked)."""
    kind, _, value = presented.partition(":")
    return f"API token {TOKEN_PREFIX}{value}" if kind == "prefix" else "malformed API token"


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticates as the token's user; ``request.auth`` is the ApiToken (for its scope)."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None  # not ours: session or anonymous
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Token <token>'.", code="token_invalid"
            )
        try:
            token = api_token_authenticate(raw=parts[1].decode("latin-1"), ip=client_ip(request))
        except ApiTokenThrottled as error:
            raise exceptions.Throttled(wait=error.wait_s, detail=error.message) from None
        except ApiTokenRejected as error:
            raise exceptions.AuthenticationFailed(error.message, code=error.code) from None
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes unauthenticated requests 401 (with this challenge) rather than 403.
        return 'Token realm="api"'
