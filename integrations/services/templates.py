"""Rendering an endpoint's path, header and body templates with caller variables.

Placeholders are ``{name}``; other braces (JSON, regexes) are left alone. A missing
variable is an error naming it, never an empty string sent to the customer.

Templates are stored in plain text, so a header or body field named like a credential
(``X-Auth-Token``, ``password``) may hold only placeholders: ``template_secret_errors``
refuses a literal at save time. Rows saved before that rule, and variables named like
credentials, are still handled as secrets: ``template_secrets`` lists their values for
redaction wherever a call is stored or shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from integrations.errors import TemplateError
from integrations.outbound.redaction import AUTH_SCHEMES, is_credential_header, is_sensitive_key

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_USE_A_CREDENTIAL = (
    "templates are stored in plain text. Put the value in an API key (any header name), "
    "the OAuth client or a test user, which are encrypted, or send a {placeholder}."
)


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


def has_literal(value: Any) -> bool:
    """Whether a template value holds more than placeholders and an auth scheme word:
    a number, or text that is still there once ``{name}`` and ``Bearer`` are taken out."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return True
    words = PLACEHOLDER.sub(" ", str(value)).split()
    if words and words[0].lower() in AUTH_SCHEMES:
        words = words[1:]
    return any(char.isalnum() for word in words for char in word)


def template_secret_errors(*, headers: Any, body: Any) -> dict[str, str]:
    """Field errors for credential-like headers and body fields given a literal value."""
    errors: dict[str, str] = {}
    if isinstance(headers, dict):
        named = [k for k, v in headers.items() if is_credential_header(str(k)) and has_literal(v)]
        if named:
            errors["headers_template"] = (
                f"Header {', '.join(named)} looks like a credential, and {_USE_A_CREDENTIAL}"
            )
    if fields := _literal_secret_fields(body, ""):
        errors["body_template"] = (
            f"Field {', '.join(fields)} looks like a credential, and {_USE_A_CREDENTIAL}"
        )
    return errors


def _literal_secret_fields(value: Any, path: str) -> list[str]:
    """Dotted paths of credential-like fields (at any depth) holding a literal."""
    found: list[str] = []
    if isinstance(value, list):
        for item in value:
            found.extend(f for f in _literal_secret_fields(item, path) if f not in found)
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if is_sensitive_key(str(key)) and any(map(has_literal, _scalars(item))):
                found.append(where)
            else:
                found.extend(_literal_secret_fields(item, where))
    return found


def masked_body_template(value: Any, marker: str) -> Any:
    """The body template with literals under credential-like fields replaced by ``marker``."""
    if isinstance(value, list):
        return [masked_body_template(item, marker) for item in value]
    if isinstance(value, dict):
        return {
            key: marker
            if is_sensitive_key(str(key)) and any(map(has_literal, _scalars(item)))
            else masked_body_template(item, marker)
            for key, item in value.items()
        }
    return value


def template_secrets(
    *, headers: Mapping[str, str], body: Any, variables: Mapping[str, Any]
) -> list[str]:
    """Values a rendered request carries under credential-like names, and the values of
    variables named like credentials: secrets to redact, whatever their origin."""
    values = [str(v) for k, v in variables.items() if is_sensitive_key(str(k))]
    for name, value in headers.items():
        if is_credential_header(name):
            scheme, _, rest = value.strip().partition(" ")
            values += [value, rest.strip()] if scheme.lower() in AUTH_SCHEMES else [value]
    values += [str(v) for v in _secret_field_values(body) if not isinstance(v, bool)]
    return [value for value in values if value.strip()]


def _secret_field_values(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [found for item in value for found in _secret_field_values(item)]
    if isinstance(value, dict):
        found: list[Any] = []
        for key, item in value.items():
            found += _scalars(item) if is_sensitive_key(str(key)) else _secret_field_values(item)
        return found
    return []


def _scalars(value: Any) -> list[Any]:
    """Every string or number inside a JSON value."""
    if isinstance(value, dict):
        return [s for item in value.values() for s in _scalars(item)]
    if isinstance(value, list):
        return [s for item in value for s in _scalars(item)]
    return [] if value is None else [value]
