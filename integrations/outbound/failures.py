"""Turn what requests, urllib3, socket and ssl raise into our typed errors.

Library messages are not reused: they embed the request URL (ours holds the pinned IP
and may hold secrets in its query). Messages are rebuilt from host, port and cause.
The builders below are shared with the aiohttp client, so one fault reads the same in both.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Iterator

import requests
from urllib3 import exceptions as u3

from integrations.outbound.errors import (
    ConnectFailure,
    ConnectionReset,
    InvalidRequest,
    MalformedResponse,
    OutboundError,
    TlsFailure,
    TooManyRedirects,
    UpstreamTimeout,
    UpstreamTooLarge,
)
from integrations.outbound.exchange import Exchange
from integrations.outbound.policy import Destination

_RESET = (
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
    http.client.RemoteDisconnected,
    http.client.IncompleteRead,
    u3.ProtocolError,
    requests.exceptions.ChunkedEncodingError,
)
_DECODE = (u3.DecodeError, requests.exceptions.ContentDecodingError)
# A reply http.client or urllib3 could not parse as a response head (other than a reset).
_BAD_FRAMING = (u3.InvalidHeader, http.client.HTTPException)
_INVALID = (
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidURL,
    u3.LocationParseError,
)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and everything it wraps: causes, contexts and urllib3's ``reason``."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [item for item in linked if isinstance(item, BaseException)]


def first_cause(
    error: BaseException, kinds: tuple[type[BaseException], ...]
) -> BaseException | None:
    """The first of ``error`` and what it wraps that is one of ``kinds``."""
    return next((cause for cause in _causes(error) if isinstance(cause, kinds)), None)


def _tls_message(error: BaseException, where: str) -> str:
    cause = first_cause(error, (ssl.SSLError,))
    detail = "the TLS handshake failed"
    if isinstance(cause, ssl.SSLCertVerificationError):
        detail = f"its certificate was rejected ({cause.verify_message})"
    elif isinstance(cause, ssl.SSLError):
        detail = (
            f"the TLS handshake failed ({getattr(cause, 'reason', None) or type(cause).__name__})"
        )
    return f"{where}: {detail}. Check the certificate, or the environment's TLS verification."


# --- the failures both clients report, built in one place so their words agree ---


def peer(destination: Destination) -> str:
    return f"{destination.netloc} ({destination.ip})"


def connect_timed_out(destination: Destination, connect_timeout_s: float) -> UpstreamTimeout:
    return UpstreamTimeout(
        f"{peer(destination)} did not accept a connection within {connect_timeout_s:g} s",
        phase="connect",
        timeout_s=connect_timeout_s,
    )


def not_http(destination: Destination) -> MalformedResponse:
    # The reply itself is not quoted: it may be anything, a banner or someone's data.
    return MalformedResponse(
        f"{peer(destination)} did not answer HTTP (its reply has no HTTP status line); "
        "check the port and the scheme (http or https)"
    )


def bad_framing(destination: Destination) -> MalformedResponse:
    return MalformedResponse(
        f"{peer(destination)} sent an invalid HTTP response head (a negative, non-numeric or "
        "conflicting Content-Length, or a malformed header); the body cannot be delimited"
    )


def bad_encoding(destination: Destination) -> MalformedResponse:
    return MalformedResponse(
        f"{peer(destination)} sent a body that does not match its Content-Encoding"
    )


def reset(destination: Destination) -> ConnectionReset:
    return ConnectionReset(
        f"{peer(destination)} closed or reset the connection before a full response"
    )


def refused(destination: Destination) -> ConnectFailure:
    return ConnectFailure(f"{peer(destination)} refused the connection: is the service listening?")


def tls_failed(error: BaseException, destination: Destination) -> TlsFailure:
    return TlsFailure(_tls_message(error, peer(destination)))


def too_many_redirects(url: str, limit: int) -> TooManyRedirects:
    return TooManyRedirects(
        f"{url.split('?', 1)[0]} redirected more than {limit} times; "
        "check the base URL (http vs https, trailing slash) or raise the limit",
        limit=limit,
    )


def too_large(
    destination: Destination, *, limit: int, received: int, exchange: Exchange
) -> UpstreamTooLarge:
    declared = exchange.header("Content-Length")
    seen = f"it declared {declared} bytes" if received == 0 else f"read {received} bytes"
    return UpstreamTooLarge(
        f"the response from {destination.netloc} exceeds the {limit}-byte cap ({seen}); "
        "ask for a smaller response or raise the cap for this endpoint",
        limit=limit,
        received=received,
        exchange=exchange,
    )


def content_length_invalid(values: list[str]) -> bool:
    """Whether Content-Length values cannot delimit a body: negative, not a number, or
    disagreeing. http.client would read such a body to EOF; aiohttp refuses it; we refuse."""
    numbers = {value.strip() for field in values for value in field.split(",")}
    return bool(numbers) and (
        not all(number.isdigit() for number in numbers)
        or len({int(number) for number in numbers}) > 1
    )


def deadline_exceeded(destination: Destination, deadline_s: float) -> UpstreamTimeout:
    return UpstreamTimeout(
        f"{destination.netloc} did not send a complete response within the {deadline_s:g} s "
        "deadline",
        phase="deadline",
        timeout_s=deadline_s,
    )


def map_exception(
    error: BaseException,
    *,
    destination: Destination,
    deadline_s: float,
    connect_timeout_s: float,
    deadline_passed: bool,
) -> OutboundError:
    """The typed error for a library exception raised while talking to ``destination``."""
    if deadline_passed:
        # Whatever the cut socket raised, the cause is our deadline.
        return deadline_exceeded(destination, deadline_s)
    if first_cause(error, (u3.NewConnectionError,)) is None and first_cause(
        error, (u3.ConnectTimeoutError, requests.exceptions.ConnectTimeout)
    ):
        return connect_timed_out(destination, connect_timeout_s)
    if first_cause(error, (ssl.SSLError, u3.SSLError, requests.exceptions.SSLError)):
        return tls_failed(error, destination)
    if first_cause(error, (u3.ReadTimeoutError, requests.exceptions.ReadTimeout, TimeoutError)):
        return deadline_exceeded(destination, deadline_s)
    return _map_connection_error(error, destination)


def _map_connection_error(error: BaseException, destination: Destination) -> OutboundError:
    where = peer(destination)
    if first_cause(error, (ConnectionRefusedError,)):
        return refused(destination)
    if first_cause(error, (u3.NewConnectionError,)):
        reason = first_cause(error, (OSError,))
        detail = getattr(reason, "strerror", None) or "no route"
        return ConnectFailure(f"could not connect to {where}: {detail}")
    # RemoteDisconnected is a BadStatusLine too, but it means "closed before answering".
    if first_cause(error, (http.client.RemoteDisconnected,)) is None:
        if first_cause(error, (http.client.BadStatusLine,)):
            return not_http(destination)
        if first_cause(error, _BAD_FRAMING) and not first_cause(error, _RESET):
            return bad_framing(destination)
    if first_cause(error, _RESET):
        return reset(destination)
    if first_cause(error, _DECODE):
        return bad_encoding(destination)
    if first_cause(error, _INVALID):
        return InvalidRequest(f"the request to {where} is invalid: check header names and values")
    return ConnectFailure(f"talking to {where} failed ({type(error).__name__})")
