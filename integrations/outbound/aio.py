"""The asyncio client of the outbound edge, for probe batches (aiohttp).

Same contract as ``send``: every destination (each redirect hop too) is checked by
the OutboundPolicy before any socket opens, the connection goes to the checked IP
(the resolver below answers only with it), the whole call runs under the wall-clock
deadline, the decoded body is read up to the size cap, and every failure is the same
typed error ``send`` raises for the same fault, carrying the partial exchange once a
request has gone out. ``send_many`` never raises for one request's failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import ssl
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp import http_exceptions
from aiohttp.abc import AbstractResolver, ResolveResult

from integrations.outbound.errors import ConnectFailure, OutboundError
from integrations.outbound.exchange import Exchange, OutboundRequest, RedirectHop, SentRequest
from integrations.outbound.failures import (
    bad_encoding,
    bad_framing,
    connect_timed_out,
    deadline_exceeded,
    first_cause,
    not_http,
    peer,
    refused,
    reset,
    tls_failed,
    too_large,
    too_many_redirects,
)
from integrations.outbound.policy import Destination, OutboundPolicy, Resolver
from integrations.outbound.redirects import REDIRECT_STATUSES, next_hop
from integrations.outbound.transport import (
    _DRAIN_BYTES,
    CHUNK_BYTES,
    _initial_body,
    _initial_headers,
    _Limits,
    _prepare,
    _text,
)

Outcome = Exchange | OutboundError
# Everything aiohttp, asyncio and the socket layer raise on the wire for one request.
_WIRE_ERRORS = (aiohttp.ClientError, http_exceptions.HttpProcessingError, OSError, ValueError)


class _PinnedResolver(AbstractResolver):
    """Answers each checked host name with the address the policy approved, nothing else."""

    def __init__(self) -> None:
        self.pins: dict[tuple[str, int], str] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        ip = self.pins.get((host, port))
        if ip is None:  # only reachable if aiohttp asks for a host we did not check
            raise OSError(f"{host}:{port} was not checked by the address policy")
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=family,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


def _memoised(resolver: Resolver) -> Resolver:
    """``resolver`` answering each (host, port) once: one DNS lookup per origin per batch.

    Only the lookup is shared. Each URL still goes through the whole policy and gets
    its own Destination, path and query included.
    """
    answers: dict[tuple[str, int], Sequence[tuple[Any, ...]]] = {}

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> Sequence[tuple[Any, ...]]:
        if (host, port) not in answers:
            answers[host, port] = resolver(host, port, *args, **kwargs)
        return answers[host, port]

    return resolve


class AsyncBatchClient:
    """One aiohttp session with pooled keep-alive connections, reused across batches."""

    def __init__(self, *, policy: OutboundPolicy, concurrency: int = 256) -> None:
        self.policy = policy
        self.resolver = _PinnedResolver()
        self.concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    async def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=self.resolver,
                limit=self.concurrency,
                limit_per_host=0,
                use_dns_cache=False,
                keepalive_timeout=30,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                auto_decompress=True,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send_many(self, requests: Sequence[OutboundRequest]) -> list[Outcome]:
        """Send every request concurrently; each outcome is an Exchange or the typed error."""
        policy = dataclasses.replace(self.policy, resolver=_memoised(self.policy.resolver))
        session = await self._ensure_session()
        gate = asyncio.Semaphore(self.concurrency)

        async def one(request: OutboundRequest) -> Outcome:
            async with gate:
                return await _AsyncCall(request, policy, session, self.resolver).run()

        return list(await asyncio.gather(*(one(r) for r in requests)))


class _AsyncCall:
    """One request of a batch: the state carried across redirect hops."""

    def __init__(
        self,
        request: OutboundRequest,
        policy: OutboundPolicy,
        session: aiohttp.ClientSession,
        pins: _PinnedResolver,
    ) -> None:
        self.request, self.policy, self.session, self.pins = request, policy, session, pins
        self.limits = _Limits.of(request, policy)
        self.sensitive = frozenset(name.lower() for name in request.sensitive_headers)
        self.started = time.monotonic()
        self.hops: list[RedirectHop] = []
        self.sent: SentRequest | None = None
        self.destination: Destination | None = None
        self.ttfb_ms: float | None = None

    async def run(self) -> Outcome:
        try:
            return await self._run()
        except OutboundError as error:
            if error.exchange is None and self.sent is not None:
                error.exchange = self._exchange()
            return error

    def _check(self, url: str) -> Destination:
        destination = self.policy.resolve(url)
        self.pins.pins[(destination.host, destination.port)] = destination.ip
        self.destination = destination
        return destination

    async def _run(self) -> Exchange:
        destination = self._check(self.request.url)
        deadline = asyncio.timeout(self.limits.deadline_s)
        try:
            async with deadline:
                try:
                    return await self._follow(destination)
                except _WIRE_ERRORS as error:
                    # No chaining: library messages carry the URL and bytes of the reply.
                    raise self._fail(error) from None
        except (TimeoutError, OutboundError):
            if deadline.expired():
                # Whatever the cancelled read raised, the cause is our deadline.
                raise deadline_exceeded(self._where(), self.limits.deadline_s) from None
            raise

    def _where(self) -> Destination:
        assert self.destination is not None  # set before any await
        return self.destination

    def _fail(self, error: BaseException) -> OutboundError:
        return map_aiohttp_error(
            error, destination=self._where(), connect_timeout_s=self.limits.connect_timeout_s
        )

    async def _follow(self, destination: Destination) -> Exchange:
        method = self.request.method.upper()
        headers, body = _initial_headers(self.request), _initial_body(self.request)
        while True:
            response = await self._open(destination, method, headers, body)
            location = self._redirect_location(response)
            if location is None:
                return await self._finish(response, destination)
            await _discard(response)
            hop = next_hop(
                self.hops,
                limit=self.limits.max_redirects,
                too_many=lambda: too_many_redirects(self.request.url, self.limits.max_redirects),
                previous=destination,
                method=method,
                headers=headers,
                body=body,
                sensitive=self.sensitive,
                resolve=self._check,
            )
            destination, method, headers, body = hop.destination, hop.method, hop.headers, hop.body

    async def _open(
        self, destination: Destination, method: str, headers: dict[str, str], body: bytes | None
    ) -> aiohttp.ClientResponse:
        # Built (and so validated) exactly as ``send`` builds it: same refusals, same record.
        prepared = _prepare(destination, method, headers, body)
        raw_body = prepared.body if isinstance(prepared.body, bytes) else b""
        sent_headers = tuple((k, _text(v)) for k, v in prepared.headers.items())
        self.sent = SentRequest(method, destination.url, sent_headers, raw_body)
        self.ttfb_ms = None
        verify: Any = _ssl_context(self.limits.verify) if destination.scheme == "https" else True
        response = await self.session.request(
            method,
            destination.url,
            headers=headers,
            data=raw_body or None,
            allow_redirects=False,
            ssl=verify,
            timeout=aiohttp.ClientTimeout(sock_connect=self.limits.connect_timeout_s),
        )
        self.ttfb_ms = self._ms()
        return response

    def _redirect_location(self, response: aiohttp.ClientResponse) -> str | None:
        if not self.request.follow_redirects or response.status not in REDIRECT_STATUSES:
            return None
        location = response.headers.get("Location")
        if location is None or self.sent is None:
            return None
        self.hops.append(RedirectHop(self.sent, response.status, location, self._where().ip))
        return location

    async def _finish(self, response: aiohttp.ClientResponse, destination: Destination) -> Exchange:
        limit = self.limits.max_bytes
        try:
            data, received, complete = await _read_capped(response, limit, self.sent)
        except BaseException:
            response.close()
            raise
        if complete:
            response.release()  # a whole body frees the connection for reuse
        else:
            response.close()  # a cut one must not be reused
        exchange = self._exchange(response, data, truncated=not complete)
        if not complete:
            raise too_large(destination, limit=limit, received=received, exchange=exchange)
        return exchange.raise_for_status() if self.request.raise_for_status else exchange

    def _ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 2)

    def _exchange(
        self,
        response: aiohttp.ClientResponse | None = None,
        body: bytes = b"",
        truncated: bool = False,
    ) -> Exchange:
        assert self.sent is not None  # only called once a request has gone out
        status_fields: dict[str, Any] = {}
        if response is not None:
            status_fields = {
                "status": response.status,
                "reason": response.reason or "",
                "headers": tuple(response.headers.items()),
            }
        return Exchange(
            request=self.sent,
            redirects=tuple(self.hops),
            body=body,
            truncated=truncated,
            elapsed_ms=self._ms(),
            ttfb_ms=self.ttfb_ms,
            peer_ip=self._where().ip,
            sensitive_headers=self.sensitive,
            **status_fields,
        )


async def _read_capped(
    response: aiohttp.ClientResponse, limit: int, sent: SentRequest | None
) -> tuple[bytes, int, bool]:
    """Up to ``limit`` bytes of the decoded body, bytes read, and whether that was all.

    Stops one chunk past the cap, like ``send``: the rest is never read.
    """
    declared = response.content_length
    bodyless = (sent is not None and sent.method == "HEAD") or response.status in (204, 304)
    if declared is not None and declared > limit and not bodyless:
        return b"", 0, False
    buffer = bytearray()
    async for chunk in response.content.iter_chunked(CHUNK_BYTES):
        buffer += chunk
        if len(buffer) > limit:
            received = len(buffer)
            del buffer[limit:]  # in place: one copy of the capped body, not two
            return bytes(buffer), received, False
    return bytes(buffer), len(buffer), True


async def _discard(response: aiohttp.ClientResponse) -> None:
    """Finish with a redirect answer, keeping its connection when the body is small."""
    complete = False
    try:
        _, _, complete = await _read_capped(response, _DRAIN_BYTES, None)
    except _WIRE_ERRORS:
        pass  # the redirect is still followed; only this connection is lost
    finally:
        if complete:
            response.release()
        else:
            response.close()


def _caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    return first_cause(error, kinds) is not None


def map_aiohttp_error(
    error: BaseException, *, destination: Destination, connect_timeout_s: float
) -> OutboundError:
    """The typed error ``send`` gives for the same fault, from what aiohttp raised."""
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return connect_timed_out(destination, connect_timeout_s)
    if isinstance(error, aiohttp.ClientSSLError) or _caused_by(error, (ssl.SSLError,)):
        # aiohttp's TLS errors are ssl.SSLError subclasses themselves; report the real one.
        inner = getattr(error, "certificate_error", None) or getattr(error, "os_error", None)
        return tls_failed(inner if isinstance(inner, BaseException) else error, destination)
    if isinstance(error, aiohttp.ClientConnectorError):
        if isinstance(error.os_error, ConnectionRefusedError):
            return refused(destination)
        detail = getattr(error.os_error, "strerror", None) or type(error.os_error).__name__
        return ConnectFailure(f"could not connect to {peer(destination)}: {detail}")
    if _caused_by(error, (http_exceptions.BadStatusLine,)):
        return not_http(destination)
    if _caused_by(error, (http_exceptions.ContentEncodingError,)):
        return bad_encoding(destination)
    if _caused_by(
        error, (http_exceptions.ContentLengthError, http_exceptions.TransferEncodingError)
    ):
        return reset(destination)  # the body ended before its declared length
    if isinstance(error, aiohttp.ClientResponseError | http_exceptions.HttpProcessingError):
        return bad_framing(destination)
    if isinstance(error, aiohttp.ClientError | ConnectionError):
        return reset(destination)
    return ConnectFailure(f"talking to {peer(destination)} failed ({type(error).__name__})")


_contexts: dict[str, ssl.SSLContext] = {}


def _ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    if verify is False:
        return False
    cafile = verify if isinstance(verify, str) else None
    key = cafile or ""
    if key not in _contexts:
        _contexts[key] = ssl.create_default_context(cafile=cafile)
    return _contexts[key]
