"""Send one request to a customer, safely: the only code that opens sockets to them.

The policy resolves the host once; we then put the checked IP in the URL requests
sees and the real name in ``Host`` (``session.py`` turns it into SNI and the
certificate check). requests never resolves the name itself, so a second DNS answer
cannot redirect the connection (DNS rebinding). Redirects are followed here, hop by
hop, each one through the policy again.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import time
from dataclasses import dataclass
from typing import Any

import requests
from urllib3 import exceptions as u3

from integrations.outbound.deadline import CallWatch, watching
from integrations.outbound.errors import InvalidRequest, OutboundError
from integrations.outbound.exchange import Exchange, OutboundRequest, RedirectHop, SentRequest
from integrations.outbound.failures import (
    bad_framing,
    content_length_invalid,
    deadline_exceeded,
    map_exception,
    too_large,
    too_many_redirects,
)
from integrations.outbound.policy import Destination, OutboundPolicy
from integrations.outbound.redirects import REDIRECT_STATUSES, next_hop
from integrations.outbound.session import session_for_thread

CHUNK_BYTES = 64 * 1024
_DRAIN_BYTES = 64 * 1024  # redirect bodies up to this size are read so the socket is reused
_DEFAULT_HEADERS = {
    "User-Agent": "integration-portal-outbound/1.0",
    "Accept": "application/json, */*;q=0.5",
    "Accept-Encoding": "gzip, deflate",
}
# Everything the libraries raise on the wire; anything else is a bug and propagates.
_WIRE_ERRORS = (requests.RequestException, u3.HTTPError, http.client.HTTPException, OSError)


@dataclass(frozen=True)
class _Limits:
    connect_timeout_s: float
    deadline_s: float
    max_bytes: int
    max_redirects: int
    verify: bool | str

    @classmethod
    def of(cls, request: OutboundRequest, policy: OutboundPolicy) -> _Limits:
        def pick(value: Any, default: Any) -> Any:
            return default if value is None else value

        verify: bool | str = request.verify_tls and (policy.ca_bundle or True)
        return cls(
            connect_timeout_s=pick(request.connect_timeout_s, policy.connect_timeout_s),
            deadline_s=pick(request.deadline_s, policy.deadline_s),
            max_bytes=pick(request.max_bytes, policy.max_response_bytes),
            max_redirects=pick(request.max_redirects, policy.max_redirects),
            verify=verify,
        )


def _initial_headers(request: OutboundRequest) -> dict[str, str]:
    headers = requests.structures.CaseInsensitiveDict(_DEFAULT_HEADERS)
    headers.update(request.headers)
    for computed in ("Host", "Content-Length", "Transfer-Encoding"):
        headers.pop(computed, None)  # we and requests set these from the real request
    if request.json is not None:
        headers.setdefault("Content-Type", "application/json")
    return dict(headers.items())


def _initial_body(request: OutboundRequest) -> bytes | None:
    if request.json is not None and request.body is not None:
        raise InvalidRequest("give the request a raw body or a JSON body, not both")
    if request.json is not None:
        return jsonlib.dumps(request.json, separators=(",", ":")).encode()
    return request.body


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("latin-1")


def _read_capped(response: requests.Response, limit: int) -> tuple[bytes, int, bool]:
    """Up to ``limit`` bytes of the decoded body, bytes read, and whether that was all.

    Stops one chunk past the cap: the rest is never read, so memory stays bounded.
    """
    declared = response.headers.get("Content-Length", "")
    bodyless = response.request.method == "HEAD" or response.status_code in (204, 304)
    if declared.isdigit() and int(declared) > limit and not bodyless:
        return b"", 0, False
    buffer = bytearray()
    for chunk in response.raw.stream(CHUNK_BYTES, decode_content=True):
        buffer += chunk
        if len(buffer) > limit:
            received = len(buffer)
            del buffer[limit:]  # in place: one copy of the capped body, not two
            return bytes(buffer), received, False
    return bytes(buffer), len(buffer), True


def _discard(response: requests.Response) -> None:
    """Finish with a redirect answer, keeping its connection when the body is small."""
    try:
        _, _, complete = _read_capped(response, _DRAIN_BYTES)
    except _WIRE_ERRORS:
        complete = False
    if complete:
        response.raw.release_conn()
    else:
        response.close()


def _prepare(
    destination: Destination, method: str, headers: dict[str, str], body: bytes | None
) -> requests.PreparedRequest:
    wire = {**headers, "Host": destination.netloc}
    try:
        request = requests.Request(method, destination.pinned_url, headers=wire, data=body)
        return request.prepare()
    except (ValueError, requests.RequestException) as error:
        raise InvalidRequest(f"the request cannot be built: {type(error).__name__}") from None


class _Call:
    """One ``send``: the state carried across redirect hops."""

    def __init__(self, request: OutboundRequest, policy: OutboundPolicy) -> None:
        self.request = request
        self.policy = policy
        self.limits = _Limits.of(request, policy)
        self.sensitive = frozenset(name.lower() for name in request.sensitive_headers)
        self.started = time.monotonic()
        self.hops: list[RedirectHop] = []
        self.sent: SentRequest | None = None
        self.peer_ip = ""
        self.ttfb_ms: float | None = None

    def run(self) -> Exchange:
        try:
            return self._run()
        except OutboundError as error:
            if error.exchange is None and self.sent is not None:
                error.exchange = self._exchange()
            raise

    def _run(self) -> Exchange:
        method = self.request.method.upper()
        headers, body = _initial_headers(self.request), _initial_body(self.request)
        destination = self.policy.resolve(self.request.url)
        with watching(self.started + self.limits.deadline_s) as watch:
            while True:
                response = self._open(destination, method, headers, body, watch)
                location = self._redirect_location(response)
                if location is None:
                    return self._finish(response, destination, watch)
                hop = next_hop(
                    self.hops,
                    limit=self.limits.max_redirects,
                    too_many=lambda: too_many_redirects(
                        self.request.url, self.limits.max_redirects
                    ),
                    previous=destination,
                    method=method,
                    headers=headers,
                    body=body,
                    sensitive=self.sensitive,
                    resolve=self.policy.resolve,
                )
                destination, method, headers, body = (
                    hop.destination,
                    hop.method,
                    hop.headers,
                    hop.body,
                )

    def _ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 2)

    def _fail(
        self, error: BaseException, destination: Destination, watch: CallWatch
    ) -> OutboundError:
        return map_exception(
            error,
            destination=destination,
            deadline_s=self.limits.deadline_s,
            connect_timeout_s=self.limits.connect_timeout_s,
            deadline_passed=watch.fired or watch.remaining() <= 0,
        )

    def _open(
        self,
        destination: Destination,
        method: str,
        headers: dict[str, str],
        body: bytes | None,
        watch: CallWatch,
    ) -> requests.Response:
        remaining = watch.remaining()
        if remaining <= 0:
            raise deadline_exceeded(destination, self.limits.deadline_s)
        prepared = _prepare(destination, method, headers, body)
        raw_body = prepared.body if isinstance(prepared.body, bytes) else b""
        headers_sent = tuple((k, _text(v)) for k, v in prepared.headers.items())
        self.sent = SentRequest(method, destination.url, headers_sent, raw_body)
        self.peer_ip, self.ttfb_ms = destination.ip, None
        timeout = (min(self.limits.connect_timeout_s, remaining), remaining)
        try:
            response = session_for_thread().send(
                prepared,
                stream=True,
                timeout=timeout,
                verify=self.limits.verify,
                allow_redirects=False,
                proxies={},
            )
        except _WIRE_ERRORS as error:
            # No chaining: library messages carry the request URL, query and all.
            raise self._fail(error, destination, watch) from None
        self.ttfb_ms = self._ms()
        return response

    def _redirect_location(self, response: requests.Response) -> str | None:
        if not self.request.follow_redirects or response.status_code not in REDIRECT_STATUSES:
            return None
        location = response.headers.get("Location")
        if location is None or self.sent is None:
            return None
        self.hops.append(RedirectHop(self.sent, response.status_code, location, self.peer_ip))
        _discard(response)
        return location

    def _finish(
        self, response: requests.Response, destination: Destination, watch: CallWatch
    ) -> Exchange:
        if content_length_invalid(response.raw.headers.getlist("Content-Length")):
            # http.client would read such a body to EOF; the aiohttp client refuses it.
            response.close()
            raise bad_framing(destination)
        try:
            data, received, complete = _read_capped(response, self.limits.max_bytes)
        except _WIRE_ERRORS as error:
            response.close()
            raise self._fail(error, destination, watch) from None
        if watch.fired:
            # A cut socket can look like a clean end of a body without a length.
            response.close()
            raise deadline_exceeded(destination, self.limits.deadline_s)
        if complete:
            response.raw.release_conn()
        else:
            response.close()
        exchange = self._exchange(response, data, truncated=not complete)
        if not complete:
            limit = self.limits.max_bytes
            raise too_large(destination, limit=limit, received=received, exchange=exchange)
        return exchange.raise_for_status() if self.request.raise_for_status else exchange

    def _exchange(
        self, response: requests.Response | None = None, body: bytes = b"", truncated: bool = False
    ) -> Exchange:
        assert self.sent is not None  # only called once a request has gone out
        status_fields: dict[str, Any] = {}
        if response is not None:
            status_fields = {
                "status": response.status_code,
                "reason": response.reason or "",
                "headers": tuple(response.raw.headers.items()),
            }
        return Exchange(
            request=self.sent,
            redirects=tuple(self.hops),
            body=body,
            truncated=truncated,
            elapsed_ms=self._ms(),
            ttfb_ms=self.ttfb_ms,
            peer_ip=self.peer_ip,
            sensitive_headers=self.sensitive,
            **status_fields,
        )


def send(request: OutboundRequest, *, policy: OutboundPolicy | None = None) -> Exchange:
    """Send ``request`` under the address policy and limits; return the whole exchange.

    Raises an OutboundError subclass for every failure, carrying the partial exchange
    once a request has gone out. 4xx/5xx answers raise UpstreamHttpError unless
    ``request.raise_for_status`` is False.
    """
    return _Call(request, policy or OutboundPolicy.from_settings()).run()
