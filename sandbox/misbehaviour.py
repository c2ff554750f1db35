"""How the business route misbehaves when fault knobs ask it to.

See :mod:`sandbox.faults` for the knobs. Gateway faults replace the answer before any
credential check; body faults change how a successful answer's body is sent.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from typing import Any

from sandbox.faults import Faults
from sandbox.messages import JSON, Response, error_response, json_response

CHUNK_BYTES = 64 * 1024

HTML_ERROR_PAGE = b"""<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title></head>
<body><h1>502 Bad Gateway</h1><p>The upstream server sent an invalid response.</p>
<hr><address>sandbox-proxy</address></body></html>
"""

# A sign-in wall in front of the API: a 200 that is not the API's answer at all.
HTML_SIGN_IN_PAGE = b"""<!DOCTYPE html>
<html><head><title>Sign in</title></head>
<body><h1>Please sign in</h1><form method="post" action="/login"></form></body></html>
"""


def gateway_fault(faults: Faults) -> Response | None:
    """The answer a misbehaving proxy in front of the API would give, or None."""
    if faults.reset_connection:
        return Response(0, abort=True)
    if faults.html_error:
        return Response(502, {"Content-Type": "text/html; charset=utf-8"}, HTML_ERROR_PAGE)
    if faults.html_ok:
        return Response(200, {"Content-Type": "text/html; charset=utf-8"}, HTML_SIGN_IN_PAGE)
    if faults.status_429_retry_after is not None:
        retry_after = str(faults.status_429_retry_after)
        description = f"too many requests; retry after {retry_after} seconds"
        return error_response(429, "rate_limited", description, {"Retry-After": retry_after})
    if faults.redirect_to is not None:
        return Response(302, {"Location": faults.redirect_to})
    if faults.error_rate and random.random() < faults.error_rate:
        description = f"injected failure (error_rate knob), status {faults.error_status}"
        return error_response(faults.error_status, "server_error", description)
    return None


def business_answer(payload: dict[str, Any], faults: Faults, stopping: threading.Event) -> Response:
    """The 200 answer for ``payload``, shaped by the body knobs."""
    if faults.endless_body:
        response = Response(200, {"Content-Type": JSON}, stream=endless_body(stopping))
    elif faults.oversized_body_bytes:
        response = sized_answer(faults.oversized_body_bytes)
    elif faults.malformed_json:
        response = Response(200, {"Content-Type": JSON}, malformed_json(payload))
    else:
        response = json_response(200, payload)
    if faults.drip_bytes_per_s:
        response = dripped(response, faults.drip_bytes_per_s, stopping)
    return response


def malformed_json(payload: dict[str, Any]) -> bytes:
    """The real answer cut in half, so it starts like JSON but never parses."""
    body = json.dumps(payload).encode()
    return body[: len(body) // 2]


def sized_answer(size: int) -> Response:
    """A 200 JSON-looking answer of exactly ``size`` bytes, streamed so memory stays flat."""
    headers = {"Content-Type": JSON, "Content-Length": str(size)}
    return Response(200, headers, stream=padding_body(size))


def padding_body(size: int) -> Iterator[bytes]:
    """``{"padding": "xxx…"}`` of exactly ``size`` bytes (plain ``x``s when too small)."""
    head, tail = b'{"padding": "', b'"}'
    filler = size - len(head) - len(tail)
    if filler < 0:
        yield b"x" * size
        return
    yield head
    while filler > 0:
        piece = min(filler, CHUNK_BYTES)
        yield b"x" * piece
        filler -= piece
    yield tail


def endless_body(stopping: threading.Event) -> Iterator[bytes]:
    """An order list that never closes; the server sends it chunked until the client leaves."""
    yield b'{"orders": ['
    order = b'{"order_id": "E-0000", "status": "delivered", "total": "1.00"}, '
    piece = order * (CHUNK_BYTES // len(order))
    while not stopping.is_set():
        yield piece


def dripped(response: Response, bytes_per_s: int, stopping: threading.Event) -> Response:
    """The same answer, sent a few bytes at a time at about ``bytes_per_s``."""
    if response.stream is None:
        response.headers["Content-Length"] = str(len(response.body))
        pieces: Iterator[bytes] = iter([response.body])
    else:
        pieces = response.stream
    response.stream = drip(pieces, bytes_per_s, stopping)
    response.body = b""
    return response


def drip(pieces: Iterator[bytes], bytes_per_s: int, stopping: threading.Event) -> Iterator[bytes]:
    """Re-slice ``pieces`` into small bits with pauses; ten bits a second when the rate allows."""
    size = max(1, bytes_per_s // 10)
    pause = size / bytes_per_s
    for piece in pieces:
        for start in range(0, len(piece), size):
            yield piece[start : start + size]
            if stopping.wait(pause):
                return
