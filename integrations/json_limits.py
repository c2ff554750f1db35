"""How deep JSON from people and tools may nest: API bodies, admin JSON fields, forms.

Python's decoder gives up near the interpreter's recursion limit with a RecursionError,
and a structure just under that limit still breaks whatever walks it next (templates,
redaction, the database adapter). Nothing the portal stores needs more than a few
levels, so anything deeper than ``JSON_MAX_DEPTH`` is refused as bad input.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

JSON_MAX_DEPTH = 64
# Customers' answers may legitimately nest deeper than what people type here, but an
# answer deeper than this is read as malformed rather than walked (and stored) as is.
REPLY_MAX_DEPTH = 200


class JsonTooDeep(ValueError):
    """JSON that nests arrays and objects deeper than the portal accepts."""

    code = "json_too_deep"

    def __init__(self, max_depth: int = JSON_MAX_DEPTH) -> None:
        self.max_depth = max_depth
        super().__init__(
            f"JSON nests arrays and objects more than {max_depth} levels deep; "
            "flatten the structure."
        )


def json_depth(value: Any, *, stop_after: int = JSON_MAX_DEPTH) -> int:
    """Nesting depth of a decoded value (a scalar is 0), counted up to ``stop_after + 1``.

    Iterative on purpose: a recursive walk would fail on the very inputs it checks.
    """
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > stop_after:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest


def json_check_depth(value: Any, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """Return ``value`` unchanged, or raise JsonTooDeep when it nests past ``max_depth``."""
    if json_depth(value, stop_after=max_depth) > max_depth:
        raise JsonTooDeep(max_depth)
    return value


def json_loads_bounded(text: str | bytes, *, max_depth: int = JSON_MAX_DEPTH, **kwargs: Any) -> Any:
    """``json.loads`` that raises JsonTooDeep instead of RecursionError or a deep value."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JsonTooDeep(max_depth) from None
    return json_check_depth(value, max_depth=max_depth)


class BoundedJSONFormField(forms.JSONField):
    """A form JSON field (admin textareas) refusing structures nested past JSON_MAX_DEPTH."""

    def to_python(self, value: Any) -> Any:
        try:
            return json_check_depth(super().to_python(value))
        except RecursionError:
            raise forms.ValidationError(str(JsonTooDeep()), code=JsonTooDeep.code) from None
        except JsonTooDeep as error:
            raise forms.ValidationError(str(error), code=error.code) from None

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Re-shows what was typed when it cannot be decoded, instead of failing again.
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)
