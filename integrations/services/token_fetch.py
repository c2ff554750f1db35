"""Fetching tokens from a customer: the OAuth token endpoint and customer authentication."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote

from integrations import clock
from integrations.choices import ClientAuthStyle, CustomerAuthMode, TokenKind
from integrations.errors import ConfigurationError, TokenEndpointError, TokenResponseError
from integrations.models import CustomerAuth, OAuthClient, TestUser
from integrations.outbound import Exchange, MalformedResponse
from integrations.services.exchanges import header_values, http_error
from integrations.services.token_parsing import (
    Expiry,
    compute_expiry,
    parse_expires_in,
    require_string_field,
)
from integrations.services.wire import environment_post_form


@dataclass
class Fetched:
    """A token as fetched, before it is cached."""

    value: str
    issued_at: datetime
    expires_at: datetime
    exchange: Exchange
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _with_grant_in_query(url: str) -> str:
    if "grant_type=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "grant_type=client_credentials"


def _basic_auth(client_id: str, secret: str) -> str:
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _token_request(client: OAuthClient, secret: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """URL, form fields and headers for the client's auth style."""
    url = client.environment.absolute_url(client.token_url)
    scope = {"scope": client.scope} if client.scope else {}
    if client.auth_style == ClientAuthStyle.HTTP_BASIC:
        fields = {"grant_type": "client_credentials", **scope}
        return url, fields, {"authorization": _basic_auth(client.client_id, secret)}
    fields = {"client_id": client.client_id, "client_secret": secret, **scope}
    return _with_grant_in_query(url), fields, {}


def _json_payload(exchange: Exchange, *, what: str, body_optional: bool = False) -> dict[str, Any]:
    """The JSON object of a token response, or the typed error it stands for.

    ``body_optional``: a 2xx answer that is not JSON stands for an empty object (a
    cookie login carries its credential in Set-Cookie; its body may be a web page).
    """
    status = exchange.status or 0
    payload: Any = None
    try:
        payload = exchange.json()
    except MalformedResponse:
        if 200 <= status < 300 and body_optional:
            return {}
        if 200 <= status < 300:
            raise
    if 400 <= status < 500 and isinstance(payload, dict) and isinstance(payload.get("error"), str):
        code = payload["error"][:100]
        description = str(payload.get("error_description", ""))[:300]
        raise TokenEndpointError(
            f"The {what} answered {status} {code}" + (f": {description}" if description else "."),
            code=code,
            status=status,
            exchange=exchange,
        )
    if not 200 <= status < 300:
        raise http_error(exchange)
    if not isinstance(payload, dict):
        raise TokenResponseError(f"The {what} response is not a JSON object.", code="not_an_object")
    return payload


class _Answer:
    """A token answer being read. Every credential read from it is marked on its exchange
    at once, so an error raised after that (a Bearer-less token type, a bad expiry) shows
    the answer with the credential hidden, whatever its field is called."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def credential(self, value: str) -> str:
        self.exchange = self.exchange.with_sensitive_values(value)
        return value


@contextmanager
def _answer_kept(exchange: Exchange) -> Iterator[_Answer]:
    """An answer the portal cannot use still went over the wire: its error keeps it, so
    a test call shows what the customer said (redacted), not just that it was wrong."""
    answer = _Answer(exchange)
    try:
        yield answer
    except TokenResponseError as error:
        error.exchange = error.exchange or answer.exchange
        raise


def oauth_token_fetch(*, oauth_client: OAuthClient) -> Fetched:
    """Client credentials grant, as the guide shows or as RFC 6749 servers expect."""
    if oauth_client.client_secret is None:
        raise ConfigurationError(f"OAuth client {oauth_client} has no client secret set.")
    url, fields, headers = _token_request(oauth_client, oauth_client.client_secret.reveal())
    sent_at = clock.now()
    exchange = environment_post_form(
        environment=oauth_client.environment, url=url, fields=fields, headers=headers
    )
    with _answer_kept(exchange) as answer:
        return _oauth_token_read(oauth_client, answer, sent_at)


def _oauth_token_read(oauth_client: OAuthClient, answer: _Answer, sent_at: datetime) -> Fetched:
    payload = _json_payload(answer.exchange, what="token endpoint")
    token = answer.credential(require_string_field(payload, oauth_client.access_token_field))
    token_type = str(payload.get(oauth_client.token_type_field) or "Bearer")
    if token_type.lower() != "bearer":
        raise TokenResponseError(
            f"The token endpoint issued a '{token_type[:40]}' token; only Bearer is supported.",
            code="unsupported_token_type",
            field=oauth_client.token_type_field,
        )
    expiry = compute_expiry(
        payload,
        expires_in_field=oauth_client.expires_in_field,
        issued_at_field=oauth_client.issued_at_field,
        sent_at=sent_at,
        received_at=clock.now(),
    )
    extra = {"token_type": token_type[:40], "scope": str(payload.get("scope", ""))[:500]}
    return _fetched(token, expiry, answer.exchange, extra)


def user_session_fetch(*, test_user: TestUser) -> Fetched:
    """Customer authentication with a test user's login: a JWT, or a session cookie."""
    auth = test_user.customer_auth
    if test_user.password is None:
        raise ConfigurationError(f"Test user {test_user} has no password set.")
    fields = {
        auth.username_field: test_user.username,
        auth.password_field: test_user.password.reveal(),
    }
    sent_at = clock.now()
    exchange = environment_post_form(
        environment=auth.environment,
        url=auth.environment.absolute_url(auth.authenticate_url),
        fields=fields,
    )
    with _answer_kept(exchange) as answer:
        return _user_session_read(auth, answer, sent_at)


def _user_session_read(auth: CustomerAuth, answer: _Answer, sent_at: datetime) -> Fetched:
    cookie_mode = auth.mode == CustomerAuthMode.COOKIE
    payload = _json_payload(
        answer.exchange, what="customer authentication endpoint", body_optional=cookie_mode
    )
    if cookie_mode:
        return _cookie_session(auth, payload, answer, sent_at)
    token = answer.credential(require_string_field(payload, auth.token_field))
    expiry = compute_expiry(
        payload,
        expires_in_field=auth.expires_in_field,
        issued_at_field=auth.issued_at_field,
        sent_at=sent_at,
        received_at=clock.now(),
    )
    return _fetched(token, expiry, answer.exchange, {"kind": TokenKind.JWT, "cookie_name": ""})


def _cookie_session(
    auth: CustomerAuth, payload: dict[str, Any], answer: _Answer, sent_at: datetime
) -> Fetched:
    exchange = answer.exchange
    morsel = _find_cookie(exchange, auth.cookie_name)
    if morsel is None or not morsel.value:
        raise TokenResponseError(
            f"The customer authentication answer of {_url_shown(exchange)} "
            f"({exchange.status}, {exchange.content_type or 'no content type'}) "
            f"set no '{auth.cookie_name}' cookie.",
            code="missing_cookie",
            field=auth.cookie_name,
        )
    answer.credential(morsel.value)  # a body may echo the session id under any name
    if auth.expires_in_field not in payload and morsel["max-age"]:
        max_age = parse_expires_in(morsel["max-age"], name="Max-Age")
        issued = clock.now()
        expiry = Expiry(issued_at=issued, expires_at=issued + timedelta(seconds=max_age or 0))
    else:
        expiry = compute_expiry(
            payload,
            expires_in_field=auth.expires_in_field,
            issued_at_field=auth.issued_at_field,
            sent_at=sent_at,
            received_at=clock.now(),
        )
    extra = {"kind": TokenKind.COOKIE, "cookie_name": auth.cookie_name}
    return _fetched(morsel.value, expiry, answer.exchange, extra)


def _url_shown(exchange: Exchange) -> str:
    # Outbound messages never carry a query (it may hold a secret): the same here.
    return exchange.request.url.split("?", 1)[0]


def _find_cookie(exchange: Exchange, name: str) -> Any:
    for header in header_values(exchange, "set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue
        if name in jar:
            return jar[name]
    return None


def _fetched(token: str, expiry: Expiry, exchange: Exchange, extra: dict[str, Any]) -> Fetched:
    return Fetched(
        value=token,
        issued_at=expiry.issued_at,
        expires_at=expiry.expires_at,
        exchange=exchange,
        warnings=expiry.warnings,
        extra=extra,
    )
