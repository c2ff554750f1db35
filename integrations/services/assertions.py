"""Per-endpoint assertions on a call result: JSON fields and response time.

An assertion is a JSON object, e.g. ``{"type": "json_equals", "path": "plan", "value": "gold"}``.
Paths are dotted, with list indexes as numbers: ``orders.0.id``.
"""

from __future__ import annotations

import re
from typing import Any

from integrations.outbound import Exchange
from integrations.outbound.redaction import redact_text
from integrations.services.calls import CallResult

_MISSING = object()
_JSON_KINDS = frozenset({"json_exists", "json_equals", "json_matches"})
SHOWN_BODY_CHARS = 120  # how much of a body that is not JSON the failure quotes
# Redacted before it is cut, over more than any secret is long, so no half-secret shows.
_REDACTED_BODY_CHARS = 8192
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")


def json_path(document: Any, path: str) -> Any:
    """The value at a dotted path, or _MISSING."""
    current = document
    for part in [p for p in path.split(".") if p]:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif (
            isinstance(current, list)
            and part.lstrip("-").isdigit()
            and -len(current) <= int(part) < len(current)
        ):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def _check(assertion: dict[str, Any], result: CallResult) -> str | None:
    kind = assertion.get("type")
    path = str(assertion.get("path", ""))
    value = json_path(result.body_json, path) if path else result.body_json
    if kind == "json_exists":
        return None if value is not _MISSING else f"JSON field '{path}' is missing"
    if kind == "json_equals":
        expected = assertion.get("value")
        return (
            None
            if value == expected
            else f"JSON field '{path}' is {_show(value)}, expected {_show(expected)}"
        )
    if kind == "json_matches":
        pattern = str(assertion.get("pattern", ""))
        if value is _MISSING or re.search(pattern, str(value)) is None:
            return f"JSON field '{path}' does not match /{pattern}/"
        return None
    if kind == "max_latency_ms":
        limit = float(assertion.get("value", 0))
        elapsed = result.exchange.elapsed_ms if result.exchange else result.duration_ms
        return None if elapsed <= limit else f"response took {elapsed:.0f} ms, limit {limit:.0f} ms"
    if kind == "status":
        expected_status = int(assertion.get("value", 0))
        return (
            None
            if result.status == expected_status
            else f"status {result.status}, expected {expected_status}"
        )
    return f"unknown assertion type {kind!r}"


def _not_json(result: CallResult) -> str:
    if result.exchange is None:
        return ""
    return not_json_described(result.exchange, secrets=result.secrets)


def not_json_described(exchange: Exchange, *, secrets: list[str]) -> str:
    """Why the answer has no JSON to look into, with its first bytes redacted; "" if it has."""
    if "json" in exchange.content_type:
        return ""  # a JSON answer that does not parse is already the call's own error
    kind = body_kind(exchange.body)
    content_type = exchange.content_type or "no content type"
    start = _body_start(exchange, secrets)
    shown = f"; it begins: {start}" if start else ""
    return f"the {exchange.status} answer is {kind} ({content_type}), not JSON{shown}"


def body_kind(body: bytes) -> str:
    """What a body that is not JSON looks like: "an HTML page", "XML", "text" or "empty"."""
    head = body[:512].lstrip().lower()
    if not head:
        return "empty"
    if head.startswith(_HTML_MARKERS) or b"<html" in head:
        return "an HTML page"
    if head.startswith(b"<?xml"):
        return "XML"
    return "text"


def _body_start(exchange: Exchange, secrets: list[str]) -> str:
    text = exchange.body[:_REDACTED_BODY_CHARS].decode("utf-8", errors="replace")
    text = redact_text(text, secrets=secrets)[: SHOWN_BODY_CHARS * 4]
    text = " ".join(text.split())
    if len(text) > SHOWN_BODY_CHARS:
        return text[:SHOWN_BODY_CHARS] + "…"
    return text


def _show(value: Any) -> str:
    return "missing" if value is _MISSING else repr(value)[:80]


def assertions_check(*, assertions: list[dict[str, Any]], result: CallResult) -> list[str]:
    """Every failed assertion, as a message; empty when all hold.

    When the answer is not JSON, the JSON assertions fail together in one message that
    says what the answer was instead, rather than each calling its field missing.
    """
    failures, unchecked = [], []
    not_json = _not_json(result)
    for assertion in assertions:
        if not isinstance(assertion, dict):
            failures.append("not an object")
        elif not_json and assertion.get("type") in _JSON_KINDS:
            unchecked.append(f"'{assertion.get('path', '')}'")
        elif message := _check(assertion, result):
            failures.append(message)
    if unchecked:
        noun = "JSON field" if len(unchecked) == 1 else "JSON fields"
        failures.insert(0, f"{noun} {', '.join(unchecked)} could not be checked: {not_json}")
    return failures
