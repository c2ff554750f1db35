"""Turn what requests, urllib3, socket and ssl raise into our typed errors.

Library messages are not reused: they embed the request URL (ours holds the pinned IP
and may hold secrets in its query). Messages are rebuilt from host, port and cause.
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
    UpstreamTimeout,
)
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


def _first(error: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    return next((cause for cause in _causes(error) if isinstance(cause, kinds)), None)


def _tls_message(error: BaseException, where: str) -> str:
    cause = _first(error, (ssl.SSLError,))
    detail = "the TLS handshake failed"
    if isinstance(cause, ssl.SSLCertVerificationError):
        detail = f"its certificate was rejected ({cause.verify_message})"
    elif isinstance(cause, ssl.SSLError):
        detail = f"the TLS handshake failed ({cause.reason or type(cause).__name__})"
    return f"{where}: {detail}. Check the certificate, or the environment's TLS verification."


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
    where = f"{destination.netloc} ({destination.ip})"
    if deadline_passed:
        # Whatever the cut socket raised, the cause is our deadline.
        return deadline_exceeded(destination, deadline_s)
    if _first(error, (u3.NewConnectionError,)) is None and _first(
        error, (u3.ConnectTimeoutError, requests.exceptions.ConnectTimeout)
    ):
        return UpstreamTimeout(
            f"{where} did not accept a connection within {connect_timeout_s:g} s",
            phase="connect",
            timeout_s=connect_timeout_s,
        )
    if _first(error, (ssl.SSLError, u3.SSLError, requests.exceptions.SSLError)):
        return TlsFailure(_tls_message(error, where))
    if _first(error, (u3.ReadTimeoutError, requests.exceptions.ReadTimeout, TimeoutError)):
        return deadline_exceeded(destination, deadline_s)
    return _map_connection_error(error, where)


def _map_connection_error(error: BaseException, where: str) -> OutboundError:
    if _first(error, (ConnectionRefusedError,)):
        return ConnectFailure(f"{where} refused the connection: is the service listening?")
    if _first(error, (u3.NewConnectionError,)):
        reason = _first(error, (OSError,))
        detail = getattr(reason, "strerror", None) or "no route"
        return ConnectFailure(f"could not connect to {where}: {detail}")
    if _first(error, _RESET):
        return ConnectionReset(f"{where} closed or reset the connection before a full response")
    if _first(error, _DECODE):
        return MalformedResponse(f"{where} sent a body that does not match its Content-Encoding")
    if _first(error, _INVALID):
        return InvalidRequest(f"the request to {where} is invalid: check header names and values")
    return ConnectFailure(f"talking to {where} failed ({type(error).__name__})")
