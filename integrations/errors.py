"""Typed failures of the portal's own services (the outbound edge has its own, in outbound/).

Each carries a stable ``code`` and a message a solution engineer can act on. Messages
name fields, credentials and hosts, never secret values.
"""

from __future__ import annotations

from typing import Any


class PortalError(Exception):
    """Base of the portal's service errors."""

    code: str = "portal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigurationError(PortalError):
    """The integration is configured in a way that cannot work (missing secret, no test user)."""

    code = "configuration_error"


class TemplateError(ConfigurationError):
    """A path, header or body template refers to a variable that was not given."""

    code = "template_error"


class TokenEndpointError(PortalError):
    """The token (or authenticate) endpoint answered with an RFC 6749 §5.2 error.

    Not retried: a wrong secret stays wrong until someone changes it.
    """

    code = "token_endpoint_error"
    # RFC 6749 errors that mean the configuration is wrong, not that the server is busy.
    PERMANENT = frozenset(
        {
            "invalid_client",
            "invalid_grant",
            "unauthorized_client",
            "invalid_scope",
            "unsupported_grant_type",
            "invalid_request",
            "invalid_credentials",
        }
    )

    def __init__(
        self, message: str, *, code: str, status: int | None = None, exchange: Any = None
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.exchange = exchange  # what went over the wire, for evidence (redact before showing)


class TokenResponseError(PortalError):
    """The token response is not what the configuration expects (missing or garbled field)."""

    code = "token_response_invalid"

    def __init__(self, message: str, *, code: str, field: str = "") -> None:
        super().__init__(message, code=code)
        self.field = field
        # The answer it was read from, set by the fetch: a test call shows it (redacted).
        # Any token read before the error is marked on it (Exchange.sensitive_values),
        # so its redaction hides that token whatever the field is called.
        self.exchange: Any = None
