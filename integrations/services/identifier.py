"""The customer identifier an endpoint sends: its format, checked at save time, rendered per call.

``Endpoint.identifier_format`` is a template over what customer authentication returned:

- ``{token}``: the JWT, or the session cookie's value for a cookie-mode customer auth;
- ``{claims.<name>}``: a claim of that JWT; dots reach into nested objects
  (``{claims.customer.id}``), and a claim whose own name holds dots (a namespaced
  ``https://acme.example/id``) is found too, longest name first.

The rendered value is what goes wherever ``identifier_location`` says: the header's
value, the JSON body field's value, or the cookie's value. The guide's default
``JWT {token}`` is a header convention: in a body field or a cookie it sends the bare
token, as the portal always has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from integrations.choices import CustomerAuthMode, IdentifierLocation
from integrations.errors import ConfigurationError

if TYPE_CHECKING:
    from integrations.models import Endpoint

DEFAULT_FORMAT = "JWT {token}"
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_CLAIM = re.compile(r"claims((?:\.[^.\s{}]+)+)")
# RFC 9110 token characters: what a header name may be made of.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# RFC 6265 cookie-octet: no controls, space, double quote, comma, semicolon or backslash.
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
USAGE = "use {token}, or {claims.<name>} for a claim of the JWT (e.g. {claims.sub})"


class IdentifierError(ConfigurationError):
    """The customer identifier cannot be built from what customer authentication returned."""

    code = "identifier_error"


@dataclass(frozen=True)
class Placeholder:
    """One ``{...}`` of a format: the token itself, or the path of a JWT claim."""

    text: str
    claim: tuple[str, ...] = ()

    @property
    def is_token(self) -> bool:
        return not self.claim


def placeholders(template: str) -> tuple[list[Placeholder], list[str]]:
    """The known placeholders of ``template`` and the texts of unknown ones."""
    known: list[Placeholder] = []
    unknown: list[str] = []
    for inner in PLACEHOLDER.findall(template):
        match = _CLAIM.fullmatch(inner)
        if inner == "token":
            known.append(Placeholder(inner))
        elif match:
            known.append(Placeholder(inner, tuple(match.group(1)[1:].split("."))))
        else:
            unknown.append("{" + inner + "}")
    return known, unknown


def effective_format(endpoint: Endpoint) -> str:
    """The format as sent: the guide's header default means the bare token elsewhere."""
    is_default = endpoint.identifier_format == DEFAULT_FORMAT
    if is_default and endpoint.identifier_location != IdentifierLocation.HEADER:
        return "{token}"
    return endpoint.identifier_format


# --- save time --------------------------------------------------------------------------


def identifier_config_errors(endpoint: Endpoint) -> dict[str, str]:
    """Field name -> message for every way the identifier settings cannot work."""
    errors = _format_errors(endpoint.identifier_format)
    location = endpoint.identifier_location
    if errors or location == IdentifierLocation.NONE:
        return errors
    auth = endpoint.customer_auth
    known, _ = placeholders(endpoint.identifier_format)
    claim = next((p for p in known if not p.is_token), None)
    if claim is not None and auth is not None and auth.mode == CustomerAuthMode.COOKIE:
        errors["identifier_format"] = (
            f"{{{claim.text}}} reads a claim of a JWT, but customer auth {auth.name} returns "
            "a session cookie, which the portal treats as opaque: use {token} for its value."
        )
    if location == IdentifierLocation.HEADER:
        errors.update(_header_errors(endpoint))
    elif location == IdentifierLocation.BODY:
        errors.update(_body_errors(endpoint))
    elif not _COOKIE_VALUE.fullmatch(PLACEHOLDER.sub("", effective_format(endpoint))):
        errors["identifier_format"] = (
            "A cookie value cannot contain spaces, quotes, commas, semicolons or backslashes; "
            "for the bare value use {token}."
        )
    return errors


def _format_errors(template: str) -> dict[str, str]:
    known, unknown = placeholders(template)
    if unknown:
        return {"identifier_format": f"Unknown placeholder {', '.join(unknown)}: {USAGE}."}
    if not known:
        return {"identifier_format": f"Must contain a placeholder: {USAGE}."}
    if _CONTROL.search(template):
        return {"identifier_format": "Must be one line without control characters."}
    return {}


def _header_errors(endpoint: Endpoint) -> dict[str, str]:
    name = endpoint.identifier_header
    if not _HEADER_NAME.fullmatch(name):
        return {"identifier_header": "Must be an HTTP header name (letters, digits, '-')."}
    taken = {"authorization": "the bearer token"} if endpoint.oauth_client_id else {}
    if endpoint.api_key is not None:
        taken[endpoint.api_key.header_name.lower()] = "the API key"
    if name.lower() in taken:
        return {"identifier_header": f"{name} already carries {taken[name.lower()]}."}
    return {}


def _body_errors(endpoint: Endpoint) -> dict[str, str]:
    errors = {}
    if not endpoint.identifier_body_field.strip():
        errors["identifier_body_field"] = "Name the JSON body field that carries the identifier."
    if endpoint.body_template is not None and not isinstance(endpoint.body_template, dict):
        errors["body_template"] = (
            "The identifier goes in a body field, so the body must be a JSON object (or empty)."
        )
    return errors


# --- call time --------------------------------------------------------------------------


def identifier_value(*, endpoint: Endpoint, token: str) -> str:
    """The identifier to send for ``token``; IdentifierError when it cannot be built.

    Messages name the endpoint, the customer auth and the claim, never a token or claim value.
    """
    template = effective_format(endpoint)
    known, unknown = placeholders(template)
    if unknown:
        raise IdentifierError(
            f"Endpoint {endpoint.name}: identifier format has unknown placeholder "
            f"{', '.join(unknown)}; {USAGE}.",
            code="identifier_format_invalid",
        )
    claims = _claims(endpoint, token, known) if any(not p.is_token for p in known) else {}

    def substitute(match: re.Match[str]) -> str:
        found = next(p for p in known if p.text == match.group(1))
        return token if found.is_token else _claim_text(endpoint, claims, found)

    value = PLACEHOLDER.sub(substitute, template)
    _check_sendable(endpoint, value)
    return value


def identifier_secrets(*, endpoint: Endpoint, token: str) -> list[str]:
    """The values a call of ``endpoint`` derives from ``token``, for redaction.

    A claim the customer's API takes as the identifier (``sub``) names the customer to
    that API as surely as the JWT does, so it is hidden in records like the JWT itself.
    """
    if endpoint.identifier_location == IdentifierLocation.NONE:
        return []
    try:
        return [identifier_value(endpoint=endpoint, token=token)]
    except IdentifierError:
        return []  # the call fails with this error when it renders the request


def _auth_name(endpoint: Endpoint) -> str:
    return endpoint.customer_auth.name if endpoint.customer_auth else "(none)"


def _claims(endpoint: Endpoint, token: str, known: list[Placeholder]) -> Mapping[str, Any]:
    # The signature is not verified on purpose: the portal passes on what the customer
    # issued and the customer's API judges it; the readiness report checks signatures.
    first = next(p for p in known if not p.is_token)
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        claims = None
    if not isinstance(claims, dict):
        raise IdentifierError(
            f"Endpoint {endpoint.name} sends {{{first.text}}}, but customer auth "
            f"{_auth_name(endpoint)} returned a token that is not a JWT (three base64url "
            "parts with a JSON object in the middle).",
            code="identifier_not_jwt",
        )
    return claims


def _claim_text(endpoint: Endpoint, claims: Mapping[str, Any], placeholder: Placeholder) -> str:
    value = _lookup(claims, placeholder.claim)
    name = ".".join(placeholder.claim)
    if value is _MISSING:
        present = ", ".join(sorted(str(key) for key in claims)[:20]) or "none"
        raise IdentifierError(
            f"Endpoint {endpoint.name} sends claim '{name}' of the customer JWT, but the JWT "
            f"of customer auth {_auth_name(endpoint)} has no such claim (its claims: {present}).",
            code="identifier_claim_missing",
        )
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        kind = "an object" if isinstance(value, dict) else "a list"
        kind = kind if isinstance(value, dict | list) else "neither text nor a number"
        raise IdentifierError(
            f"Endpoint {endpoint.name} sends claim '{name}' of the customer JWT, but it is "
            f"{kind}; point the format at a text or number claim inside it.",
            code="identifier_claim_not_a_value",
        )
    return str(value)


_MISSING = object()


def _lookup(claims: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path``, joining segments into one name where the claim's name has dots."""
    if not path:
        return claims
    if not isinstance(claims, Mapping):
        return _MISSING
    for split in range(len(path), 0, -1):
        name = ".".join(path[:split])
        if name in claims:
            found = _lookup(claims[name], path[split:])
            if found is not _MISSING:
                return found
    return _MISSING


def _check_sendable(endpoint: Endpoint, value: str) -> None:
    location = endpoint.identifier_location
    if location == IdentifierLocation.COOKIE and not _COOKIE_VALUE.fullmatch(value):
        problem = "a cookie value (it holds a space, quote, comma, semicolon or control character)"
    elif location == IdentifierLocation.HEADER and _CONTROL.search(value):
        problem = "a header value (it holds a line break or control character)"
    else:
        return
    raise IdentifierError(
        f"Endpoint {endpoint.name}: the customer identifier cannot be sent as {problem}.",
        code="identifier_not_sendable",
    )
