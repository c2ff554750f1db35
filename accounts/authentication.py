"""DRF authentication with API tokens: ``Authorization: Token <token>`` (or ``Bearer``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.models import ApiToken
from accounts.throttle import (
    API_TOKEN_ATTEMPTS,
    client_ip,
    login_blocked,
    login_failure_record,
)
from accounts.tokens import ApiTokenRejected, api_token_check

KEYWORDS = (b"token", b"bearer")


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticates as the token's user; ``request.auth`` is the ApiToken (for its scope).

    Failed attempts are counted per client address like failed logins, and refused
    for a while once there are too many.
    """

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None  # not ours: session or anonymous
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected 'Token <token>'.", code="token_invalid"
            )
        ip = client_ip(request)
        if login_blocked(username=API_TOKEN_ATTEMPTS, ip=ip):
            raise exceptions.Throttled(
                wait=settings.LOGIN_FAILURE_WINDOW_S,
                detail="Too many failed API token attempts from your address.",
            )
        try:
            token = api_token_check(raw=parts[1].decode("latin-1"))
        except ApiTokenRejected as error:
            login_failure_record(username=API_TOKEN_ATTEMPTS, ip=ip)
            raise exceptions.AuthenticationFailed(error.message, code=error.code) from None
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes unauthenticated requests 401 (with this challenge) rather than 403.
        return 'Token realm="api"'
