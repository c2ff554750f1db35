"""The outbound edge: the only code that sends requests to customers' APIs.

Callers build an ``OutboundRequest`` and ``send`` it; every failure is an
``OutboundError`` subclass; anything stored or shown goes through ``redaction``.
"""

from integrations.outbound.errors import (
    BlockedDestination,
    BlockReason,
    ConnectFailure,
    ConnectionReset,
    DnsFailure,
    ErrorClass,
    InvalidRequest,
    InvalidUrl,
    MalformedResponse,
    OutboundError,
    TlsFailure,
    TooManyRedirects,
    UpstreamHttpError,
    UpstreamTimeout,
    UpstreamTooLarge,
    classify_error,
)
from integrations.outbound.exchange import (
    Exchange,
    OutboundRequest,
    RedirectHop,
    SentRequest,
    retry_after_seconds,
)
from integrations.outbound.policy import (
    Allowlist,
    Destination,
    OutboundPolicy,
    resolve_destination,
    static_resolver,
)
from integrations.outbound.redaction import (
    CREDENTIAL_HEADERS,
    MARKER,
    is_sensitive_key,
    redact_body,
    redact_exchange,
    redact_headers,
    redact_text,
    redact_url,
)
from integrations.outbound.redirects import crosses_trust_boundary, redirected_method
from integrations.outbound.session import session_for_thread
from integrations.outbound.transport import send

__all__ = [
    "CREDENTIAL_HEADERS",
    "MARKER",
    "Allowlist",
    "BlockReason",
    "BlockedDestination",
    "ConnectFailure",
    "ConnectionReset",
    "Destination",
    "DnsFailure",
    "ErrorClass",
    "Exchange",
    "InvalidRequest",
    "InvalidUrl",
    "MalformedResponse",
    "OutboundError",
    "OutboundPolicy",
    "OutboundRequest",
    "RedirectHop",
    "SentRequest",
    "TlsFailure",
    "TooManyRedirects",
    "UpstreamHttpError",
    "UpstreamTimeout",
    "UpstreamTooLarge",
    "classify_error",
    "crosses_trust_boundary",
    "is_sensitive_key",
    "redact_body",
    "redact_exchange",
    "redact_headers",
    "redact_text",
    "redact_url",
    "redirected_method",
    "resolve_destination",
    "retry_after_seconds",
    "send",
    "session_for_thread",
    "static_resolver",
]
