"""Typed failures of the outbound edge.

Every way a call to a customer can fail is one exception type with a stable
``code`` (for logs, API output and alert rules) and a message a solution engineer
can act on. Messages name hosts and addresses but never a full URL, header or
body, so they are safe to log and to show.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from integrations.outbound.exchange import Exchange


class ErrorClass(StrEnum):
    """Coarse failure classes that dashboards and rollups group by."""

    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TIMEOUT = "timeout"
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    BLOCKED = "blocked"


class BlockReason(StrEnum):
    """Why the address policy refused a destination."""

    SCHEME = "scheme"
    LOOPBACK = "loopback"
    PRIVATE = "private"
    LINK_LOCAL = "link-local"
    METADATA = "metadata"
    MULTICAST = "multicast"
    RESERVED = "reserved"
    UNSPECIFIED = "unspecified"
    BROADCAST = "broadcast"
    DOCUMENTATION = "documentation"


class OutboundError(Exception):
    """Base of every outbound failure.

    ``exchange`` holds what was sent and received up to the failure (when a request
    left at all), so a test call can still show the wire, redacted.
    """

    code: ClassVar[str] = "outbound_error"
    error_class: ClassVar[ErrorClass] = ErrorClass.CONNECT

    def __init__(self, message: str, *, exchange: Exchange | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exchange = exchange


class InvalidRequest(OutboundError):
    """The request cannot be sent as configured (bad header, bad body)."""

    code = "invalid_request"
    error_class = ErrorClass.BLOCKED


class InvalidUrl(InvalidRequest):
    """The URL cannot be parsed, or uses a form we refuse (credentials in it)."""

    code = "invalid_url"


class BlockedDestination(OutboundError):
    """The address policy refused the destination before any socket was opened."""

    code = "blocked_destination"
    error_class = ErrorClass.BLOCKED

    def __init__(
        self,
        message: str,
        *,
        host: str,
        reason: BlockReason,
        address: str | None = None,
        exchange: Exchange | None = None,
    ) -> None:
        super().__init__(message, exchange=exchange)
        self.host = host
        self.reason = reason
        self.address = address


class DnsFailure(OutboundError):
    code = "dns_failure"
    error_class = ErrorClass.DNS


class ConnectFailure(OutboundError):
    code = "connect_failure"
    error_class = ErrorClass.CONNECT


class ConnectionReset(OutboundError):
    """The peer reset or closed the connection before a full response arrived."""

    code = "connection_reset"
    error_class = ErrorClass.CONNECT


class TlsFailure(OutboundError):
    code = "tls_failure"
    error_class = ErrorClass.TLS


class UpstreamTimeout(OutboundError):
    """``phase`` is "connect" (no TCP connection in time) or "deadline" (the whole
    call, headers and body, took longer than its wall-clock budget)."""

    code = "upstream_timeout"
    error_class = ErrorClass.TIMEOUT

    def __init__(
        self,
        message: str,
        *,
        phase: str,
        timeout_s: float,
        exchange: Exchange | None = None,
    ) -> None:
        super().__init__(message, exchange=exchange)
        self.phase = phase
        self.timeout_s = timeout_s


class UpstreamTooLarge(OutboundError):
    code = "upstream_too_large"
    error_class = ErrorClass.TOO_LARGE

    def __init__(
        self, message: str, *, limit: int, received: int, exchange: Exchange | None = None
    ) -> None:
        super().__init__(message, exchange=exchange)
        self.limit = limit
        self.received = received


class MalformedResponse(OutboundError):
    """The response cannot be used as the caller expected (e.g. JSON that does not parse)."""

    code = "malformed_response"
    error_class = ErrorClass.MALFORMED


class TooManyRedirects(OutboundError):
    code = "too_many_redirects"
    # A redirect loop is the upstream answering unusably, not a transport fault.
    error_class = ErrorClass.MALFORMED

    def __init__(self, message: str, *, limit: int, exchange: Exchange | None = None) -> None:
        super().__init__(message, exchange=exchange)
        self.limit = limit


class UpstreamHttpError(OutboundError):
    """The upstream answered with a 4xx/5xx status.

    ``retry_after`` is the delay in seconds a 429 or 503 asked for, if it sent one.
    """

    code = "upstream_http_error"
    error_class = ErrorClass.HTTP_5XX

    def __init__(
        self,
        message: str,
        *,
        status: int,
        retry_after: float | None = None,
        exchange: Exchange | None = None,
    ) -> None:
        super().__init__(message, exchange=exchange)
        self.status = status
        self.retry_after = retry_after


def classify_error(error: OutboundError) -> ErrorClass:
    """The dashboard class of ``error``; HTTP errors split by status family."""
    if isinstance(error, UpstreamHttpError):
        return ErrorClass.HTTP_5XX if error.status >= 500 else ErrorClass.HTTP_4XX
    return error.error_class
