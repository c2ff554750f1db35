"""What a caller asks the outbound edge to send, and the record of what happened."""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any

from integrations.json_limits import REPLY_MAX_DEPTH, JsonTooDeep, json_loads_bounded
from integrations.outbound.errors import MalformedResponse, UpstreamHttpError
from integrations.outbound.secret_forms import SecretMatcher

Headers = tuple[tuple[str, str], ...]
"""Header pairs in wire order; a name may repeat (Set-Cookie)."""


@dataclass(frozen=True)
class OutboundRequest:
    """One call to a customer API.

    ``body`` (raw bytes) and ``json`` (any JSON-able value) are alternatives. Limits
    left as None come from the OutboundPolicy. ``sensitive_headers`` names headers,
    beyond the standard credential ones, that carry secrets: they are redacted and
    dropped when a redirect leaves the host.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    json: Any = None
    connect_timeout_s: float | None = None
    deadline_s: float | None = None
    max_bytes: int | None = None
    follow_redirects: bool = False
    max_redirects: int | None = None
    verify_tls: bool = True
    sensitive_headers: frozenset[str] = frozenset()
    raise_for_status: bool = True


@dataclass(frozen=True)
class SentRequest:
    """A request exactly as it went on the wire (URL with the host name, not the IP)."""

    method: str
    url: str
    headers: Headers
    body: bytes


@dataclass(frozen=True)
class RedirectHop:
    """A redirect answer we followed, and the credential headers not carried onward."""

    request: SentRequest
    status: int
    location: str
    peer_ip: str
    dropped_headers: tuple[str, ...] = ()


def header_value(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive), or None."""
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, moment - (time.time() if now is None else now))


@dataclass(frozen=True)
class Exchange:
    """The whole of one call: final request, redirects followed, response, timing.

    ``status`` is None when the call failed before a response arrived (the record
    is then attached to the error). Store it with ``redacted()``, never as is.
    ``sensitive_values`` are secrets read from the answer itself (a token under a field
    of any name): ``redacted()`` always hides them, whatever secrets the caller passes.
    """

    request: SentRequest
    redirects: tuple[RedirectHop, ...] = ()
    status: int | None = None
    reason: str = ""
    headers: Headers = ()
    body: bytes = b""
    truncated: bool = False
    elapsed_ms: float = 0.0
    ttfb_ms: float | None = None
    peer_ip: str = ""
    sensitive_headers: frozenset[str] = frozenset()
    sensitive_values: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def with_sensitive_values(self, *values: str) -> Exchange:
        """This exchange, its redaction also hiding ``values`` (secrets read from it)."""
        return replace(self, sensitive_values=(*self.sensitive_values, *values))

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; MalformedResponse (carrying this exchange) if it is not."""
        try:
            return json_loads_bounded(self.body, max_depth=REPLY_MAX_DEPTH)
        except (ValueError, UnicodeDecodeError) as error:
            raise MalformedResponse(self._not_json_message(error), exchange=self) from None

    def _not_json_message(self, error: Exception) -> str:
        kind = self.content_type or "no content type"
        hint = " It looks like an HTML page." if _looks_like_html(self.body) else ""
        where = f" at byte {error.pos}" if isinstance(error, jsonlib.JSONDecodeError) else ""
        if isinstance(error, JsonTooDeep):
            where = f": it nests more than {error.max_depth} levels deep"
        return (
            f"expected JSON from {self.request.url.split('?', 1)[0]} but the {len(self.body)}-"
            f"byte body ({kind}) does not parse{where}.{hint}"
        )

    def raise_for_status(self) -> Exchange:
        """Raise UpstreamHttpError for a 4xx/5xx answer; return self otherwise."""
        if self.status is None or self.status < 400:
            return self
        retry_after = None
        if self.status in (429, 503):
            retry_after = retry_after_seconds(self.header("Retry-After"))
        raise UpstreamHttpError(
            _http_error_message(self, retry_after),
            status=self.status,
            retry_after=retry_after,
            exchange=self,
        )

    def redacted(self, *, secrets: Iterable[str] | SecretMatcher = ()) -> dict[str, Any]:
        """A JSON-able copy safe to store and show; see ``redaction.redact_exchange``."""
        from integrations.outbound.redaction import redact_exchange

        return redact_exchange(self, secrets=secrets)


_STATUS_HINTS = {
    401: "the credentials were refused",
    403: "the credentials lack permission for this call",
    404: "check the path and base URL",
    429: "the API is rate limiting us",
    502: "a gateway in front of the API could not reach it",
    503: "the API is unavailable",
    504: "a gateway in front of the API timed out",
}


def _looks_like_html(body: bytes) -> bool:
    return body[:512].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def _http_error_message(exchange: Exchange, retry_after: float | None) -> str:
    status = exchange.status
    parts = [f"{exchange.request.url.split('?', 1)[0]} answered {status} {exchange.reason}"]
    if status in _STATUS_HINTS:
        parts.append(_STATUS_HINTS[status])
    if _looks_like_html(exchange.body):
        parts.append("the body is an HTML page, not an API response")
    if retry_after is not None:
        parts.append(f"it asks to retry after {retry_after:.0f} s")
    return "; ".join(parts)
