"""The credentials the sandbox issues and checks: customer JWTs and OAuth access tokens.

JWTs are stateless, as the guide describes: nothing is stored, the signature and ``exp``
claim decide. Access tokens are opaque random strings kept in memory with their expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import jwt
from jwt.types import Options

ISSUER = "sandbox-customer-api"
ALGORITHM = "HS256"
# Expired access tokens are remembered this long so a late caller hears "expired", not "unknown".
EXPIRED_TOKEN_MEMORY_S = 3600.0


class CredentialError(Exception):
    """A presented credential is missing, malformed, unknown or expired; says which."""


def customer_id(*, username: str, signing_key: str) -> str:
    """The opaque customer identifier: unique per user, stable across logins, free of PII."""
    digest = hmac.new(signing_key.encode(), username.encode(), hashlib.sha256)
    return digest.hexdigest()


def jwt_issue(
    *,
    username: str,
    signing_key: str,
    lifetime_s: int,
    subject: str | None = None,
    extra_claims: Mapping[str, object] | None = None,
    exp_skew_s: int = 0,
    unsigned: bool = False,
) -> str:
    """Sign a customer JWT for ``username``; ``jti`` makes every login's token differ.

    The keyword arguments after ``lifetime_s`` exist for fault knobs: another subject,
    extra claims, an ``exp`` off the stated lifetime, or no signature at all (alg none).
    """
    now = int(time.time())
    claims = {
        "sub": subject or customer_id(username=username, signing_key=signing_key),
        "iat": now,
        "exp": now + lifetime_s + exp_skew_s,
        "jti": secrets.token_hex(16),
        "iss": ISSUER,
        **(extra_claims or {}),
    }
    if unsigned:
        return jwt.encode(claims, "", algorithm="none")
    return jwt.encode(claims, signing_key, algorithm=ALGORITHM)


def jwt_subject(*, token: str, signing_key: str, allow_unsigned: bool = False) -> str:
    """Verify a customer JWT and return its ``sub``, or raise :class:`CredentialError`.

    ``allow_unsigned`` accepts alg-none tokens (the ``jwt_alg_none`` knob): expiry and
    issuer are still checked, the signature is not.
    """
    options: Options = {"require": ["sub", "iat", "exp", "iss"]}
    if allow_unsigned:
        options["verify_signature"] = False
        options["verify_exp"] = options["verify_iss"] = True
    try:
        claims = jwt.decode(
            token, signing_key, algorithms=[ALGORITHM], issuer=ISSUER, options=options
        )
    except jwt.ExpiredSignatureError:
        raise CredentialError("the customer JWT has expired; log in again") from None
    except jwt.InvalidSignatureError:
        raise CredentialError("the customer JWT signature does not verify") from None
    except jwt.InvalidTokenError as error:
        raise CredentialError(f"the customer JWT is not valid: {error}") from None
    return str(claims["sub"])


@dataclass(frozen=True)
class AccessToken:
    """An issued access token, kept so /getprofile can check it."""

    value: str
    client_id: str
    expires_at: float  # time.monotonic() deadline, immune to wall-clock jumps


class AccessTokenStore:
    """Thread-safe in-memory store of issued access tokens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, AccessToken] = {}

    def issue(self, *, client_id: str, lifetime_s: int) -> AccessToken:
        """Create, remember and return a new random token."""
        now = time.monotonic()
        token = AccessToken(secrets.token_urlsafe(32), client_id, now + lifetime_s)
        with self._lock:
            self._forget_expired(now)
            self._tokens[token.value] = token
        return token

    def check(self, value: str) -> AccessToken:
        """Return the live token for ``value`` or raise :class:`CredentialError` saying why."""
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            raise CredentialError("the access token is unknown to this server; fetch a new one")
        if time.monotonic() >= token.expires_at:
            raise CredentialError("the access token has expired; fetch a new one")
        return token

    def clear(self) -> None:
        """Forget every issued token (used by /_sandbox/reset)."""
        with self._lock:
            self._tokens.clear()

    def _forget_expired(self, now: float) -> None:
        # Called under the lock on every issue, so a long demo does not grow without bound.
        horizon = now - EXPIRED_TOKEN_MEMORY_S
        expired = [value for value, token in self._tokens.items() if token.expires_at < horizon]
        for value in expired:
            del self._tokens[value]
