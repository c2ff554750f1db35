"""The asyncio client of the outbound edge, for probe batches (aiohttp).

Same policy as ``send``: every destination is checked by the OutboundPolicy before
any socket opens, the connection goes to the checked IP (the resolver below answers
only with it), the whole call runs under the wall-clock deadline, and the body is
read up to the size cap. Redirects are not followed here: requests that allow them
are refused with InvalidRequest so the caller sends them through ``send`` instead.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from integrations.outbound.errors import (
    ConnectFailure,
    ConnectionReset,
    InvalidRequest,
    OutboundError,
    TlsFailure,
    UpstreamTimeout,
    UpstreamTooLarge,
)
from integrations.outbound.exchange import Exchange, OutboundRequest, SentRequest
from integrations.outbound.policy import Destination, OutboundPolicy
from integrations.outbound.transport import _initial_body, _initial_headers, _Limits

Outcome = Exchange | OutboundError


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


class AsyncBatchClient:
    """One aiohttp session with pooled keep-alive connections, reused across batches."""

    def __init__(self, *, policy: OutboundPolicy, concurrency: int = 256) -> None:
        self.policy = policy
        self.resolver = _PinnedResolver()
        self.concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None
        self._checked: dict[str, Destination] = {}

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

    def _check(self, url: str) -> Destination:
        # One resolution per URL base per batch: every request is still checked.
        base = url.split("/", 3)[:3]
        key = "/".join(base)
        destination = self._checked.get(key)
        if destination is None:
            destination = self.policy.resolve(url)
            self._checked[key] = destination
        self.resolver.pins[(destination.host, destination.port)] = destination.ip
        return destination

    async def send_many(self, requests: Sequence[OutboundRequest]) -> list[Outcome]:
        """Send every request concurrently; each outcome is an Exchange or the typed error."""
        self._checked = {}
        session = await self._ensure_session()
        gate = asyncio.Semaphore(self.concurrency)

        async def one(request: OutboundRequest) -> Outcome:
            async with gate:
                try:
                    return await self._send(session, request)
                except OutboundError as error:
                    return error

        return list(await asyncio.gather(*(one(r) for r in requests)))

    async def _send(self, session: aiohttp.ClientSession, request: OutboundRequest) -> Exchange:
        if request.follow_redirects:
            raise InvalidRequest("redirects are followed by the synchronous client only")
        limits = _Limits.of(request, self.policy)
        destination = self._check(request.url)
        headers, body = _initial_headers(request), _initial_body(request)
        sent = SentRequest(
            request.method.upper(), destination.url, tuple(headers.items()), body or b""
        )
        started = time.monotonic()
        try:
            async with asyncio.timeout(limits.deadline_s):
                return await self._exchange(session, request, destination, sent, limits, started)
        except TimeoutError:
            raise UpstreamTimeout(
                f"{destination.netloc} did not send a complete response within the "
                f"{limits.deadline_s:g} s deadline",
                phase="deadline",
                timeout_s=limits.deadline_s,
            ) from None
        except aiohttp.ClientSSLError:
            raise TlsFailure(f"{destination.netloc}: the TLS handshake failed") from None
        except aiohttp.ClientConnectorError as error:
            raise ConnectFailure(
                f"could not connect to {destination.netloc} ({destination.ip}): "
                f"{type(error.os_error).__name__}"
            ) from None
        except (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientPayloadError,
            aiohttp.ClientOSError,
            ConnectionResetError,
        ):
            raise ConnectionReset(
                f"{destination.netloc} closed the connection before a full response"
            ) from None

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        request: OutboundRequest,
        destination: Destination,
        sent: SentRequest,
        limits: _Limits,
        started: float,
    ) -> Exchange:
        verify: Any = _ssl_context(limits.verify) if destination.scheme == "https" else None
        timeout = aiohttp.ClientTimeout(sock_connect=limits.connect_timeout_s)
        async with session.request(
            sent.method,
            destination.url,
            headers=dict(sent.headers),
            data=sent.body or None,
            allow_redirects=False,
            ssl=verify,
            timeout=timeout,
        ) as response:
            ttfb_ms = (time.monotonic() - started) * 1000
            body = await _read_capped(response, limits.max_bytes, destination)
            return Exchange(
                request=sent,
                status=response.status,
                reason=response.reason or "",
                headers=tuple((k, v) for k, v in response.headers.items()),
                body=body,
                elapsed_ms=round((time.monotonic() - started) * 1000, 2),
                ttfb_ms=round(ttfb_ms, 2),
                peer_ip=destination.ip,
                sensitive_headers=frozenset(h.lower() for h in request.sensitive_headers),
            )


async def _read_capped(
    response: aiohttp.ClientResponse, limit: int, destination: Destination
) -> bytes:
    declared = response.content_length
    if declared is not None and declared > limit:
        raise UpstreamTooLarge(
            f"{destination.netloc} announced a {declared}-byte body; the cap is {limit} bytes",
            limit=limit,
            received=0,
        )
    buffer = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        buffer += chunk
        if len(buffer) > limit:
            raise UpstreamTooLarge(
                f"{destination.netloc} sent more than the {limit}-byte cap",
                limit=limit,
                received=len(buffer),
            )
    return bytes(buffer)


_contexts: dict[str, ssl.SSLContext] = {}


def _ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    if verify is False:
        return False
    cafile = verify if isinstance(verify, str) else None
    key = cafile or ""
    if key not in _contexts:
        _contexts[key] = ssl.create_default_context(cafile=cafile)
    return _contexts[key]
