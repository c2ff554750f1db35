"""Per-endpoint assertions on a call result: JSON fields and response time.

An assertion is a JSON object, e.g. ``{"type": "json_equals", "path": "plan", "value": "gold"}``.
Paths are dotted, with list indexes as numbers: ``orders.0.id``.
"""

from __future__ import annotations

import re
from typing import Any

from integrations.services.calls import CallResult

_MISSING = object()


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


def _show(value: Any) -> str:
    return "missing" if value is _MISSING else repr(value)[:80]


def assertions_check(*, assertions: list[dict[str, Any]], result: CallResult) -> list[str]:
    """Every failed assertion, as a message; empty when all hold."""
    failures = []
    for assertion in assertions:
        message = _check(assertion, result) if isinstance(assertion, dict) else "not an object"
        if message:
            failures.append(message)
    return failures
