"""Rendering an endpoint's path, header and body templates with caller variables.

Placeholders are ``{name}``; other braces (JSON, regexes) are left alone. A missing
variable is an error naming it, never an empty string sent to the customer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from integrations.errors import TemplateError

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render_text(text: str, variables: Mapping[str, str], *, quote_values: bool = False) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise TemplateError(f"The template needs a value for '{name}'.")
        value = str(variables[name])
        # Path values are percent-encoded so a value cannot add path segments or a query.
        return quote(value, safe="") if quote_values else value

    return PLACEHOLDER.sub(substitute, text)


def render_value(value: Any, variables: Mapping[str, str]) -> Any:
    """Render every string inside a JSON value."""
    if isinstance(value, str):
        return render_text(value, variables)
    if isinstance(value, dict):
        return {key: render_value(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, variables) for item in value]
    return value


def template_variables(*templates: Any) -> list[str]:
    """Every placeholder name used in the given templates, in order, once."""
    names: list[str] = []
    for template in templates:
        for text in _strings(template):
            names.extend(n for n in PLACEHOLDER.findall(text) if n not in names)
    return names


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []
