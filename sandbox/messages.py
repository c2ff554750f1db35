"""Plain request and response values, so routes are functions that never touch a socket."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs

JSON = "application/json"


@dataclass(frozen=True)
class Request:
    """An HTTP request as the routes see it. Header names are matched case-insensitively."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # keys lower-cased by the server
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The header's value, or None when absent."""
        return self.headers.get(name.lower())

    def form(self) -> dict[str, str]:
        """The body as an urlencoded form, first value per field."""
        fields = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[0] for name, values in fields.items()}

    def query_value(self, name: str) -> str | None:
        """The first value of a query-string parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def cookie(self, name: str) -> str | None:
        """The value of cookie ``name`` from the Cookie header."""
        jar = SimpleCookie()
        try:
            jar.load(self.header("cookie") or "")
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel else None

    def media_type(self) -> str:
        """The Content-Type without parameters, lower-cased ("" when absent)."""
        return (self.header("content-type") or "").split(";")[0].strip().lower()


@dataclass
class Response:
    """What to send back.

    ``stream`` replaces ``body`` for answers written piece by piece (slow or endless bodies);
    without a Content-Length header the server sends it chunked. ``abort`` drops the
    connection without any answer.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Iterator[bytes] | None = None
    abort: bool = False


def json_response(
    status: int, payload: object, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON answer with the given status."""
    body = json.dumps(payload).encode()
    return Response(status, {"Content-Type": JSON, **(headers or {})}, body)


def error_response(
    status: int, error: str, description: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An error in the RFC 6749 shape the guide's APIs use: ``error`` plus a description."""
    return json_response(status, {"error": error, "error_description": description}, headers)
