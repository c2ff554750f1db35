"""Fix texts in the customer's own names: their paths, field names, headers and cookies.

The guide calls the login ``customer_authenticate`` and its fields ``JWT``, ``issued_at``
and ``expires_in``; a customer configured with other names gets a fix that names what
they actually built, so the person reading the report can find it in their code.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from integrations.choices import CustomerAuthMode, IdentifierLocation
from integrations.models import CustomerAuth, Endpoint, OAuthClient


def place(path_or_url: str) -> str:
    """A configured path or URL as the fix names it: no query (it may carry a secret)."""
    parts = urlsplit(path_or_url)
    if parts.scheme and parts.netloc:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"
    return parts.path or path_or_url.split("?", 1)[0]


def _listed(names: list[str]) -> str:
    names = [f"'{name}'" for name in names if name]
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def login_fix(auth: CustomerAuth) -> str:
    where = place(auth.authenticate_url)
    if auth.mode == CustomerAuthMode.COOKIE:
        fields = _listed([auth.issued_at_field, auth.expires_in_field])
        return (
            f"Answer {where} by setting the '{auth.cookie_name}' cookie, with {fields} "
            "in the body or a Max-Age on the cookie."
        )
    fields = _listed([auth.token_field, auth.issued_at_field, auth.expires_in_field])
    return f"Answer {where} with {fields}."


def users_fix(auth: CustomerAuth) -> str:
    return f"Provide test user credentials for {place(auth.authenticate_url)}."


def jwt_claims_fix(auth: CustomerAuth) -> str:
    start = f"'{auth.issued_at_field}'" if auth.issued_at_field else "the time of issue"
    return f"Sign the JWT (never alg none) and set exp to {start} + '{auth.expires_in_field}'."


def oauth_token_fix(client: OAuthClient) -> str:
    fields = _listed([client.access_token_field, client.expires_in_field])
    return (
        f"Answer the client credentials grant at {place(client.token_url)} with "
        f"'{client.token_type_field}' Bearer, {fields}."
    )


def wrong_secret_fix(client: OAuthClient) -> str:
    return (
        f"Answer a wrong client secret at {place(client.token_url)} with 401 invalid_client "
        "(RFC 6749 section 5.2)."
    )


def api_key_fix(endpoint: Endpoint) -> str:
    header = endpoint.api_key.header_name if endpoint.api_key else "API key"
    return f"Refuse calls with a missing or wrong '{header}' header with 401 or 403."


def identifier_fix(endpoint: Endpoint) -> str:
    return f"Refuse calls without a valid {identifier_place(endpoint)} with 401."


def identifier_place(endpoint: Endpoint) -> str:
    """Where the endpoint carries the customer identifier, in words."""
    location = endpoint.identifier_location
    if location == IdentifierLocation.HEADER:
        return f"'{endpoint.identifier_header}' header"
    if location == IdentifierLocation.BODY:
        return f"'{endpoint.identifier_body_field}' body field"
    if location == IdentifierLocation.COOKIE:
        cookie = endpoint.customer_auth.cookie_name if endpoint.customer_auth else "session"
        return f"'{cookie}' cookie"
    return "customer identifier"
