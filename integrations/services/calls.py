"""Calling a customer endpoint exactly as the platform does in production.

Auth steps first (OAuth token, then customer authentication), then the business
request with the bearer token, the customer identifier and the API key, each only
when the endpoint uses it. A 401 refreshes the refused credential once and retries once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.choices import IdentifierLocation
from integrations.errors import ConfigurationError, PortalError, TemplateError
from integrations.models import Endpoint, TestUser
from integrations.outbound import Exchange, MalformedResponse, OutboundError, OutboundRequest, send
from integrations.services.call_variables import (
    call_variables_merge,
    call_variables_missing,
    missing_variables_message,
)
from integrations.services.exchanges import header_values, http_error
from integrations.services.identifier import identifier_secrets, identifier_value
from integrations.services.templates import render_text, render_value, template_secrets
from integrations.services.tokens import (
    AuthStep,
    AuthStepFailed,
    IssuedToken,
    access_token_get,
    user_session_get,
)
from integrations.services.wire import environment_request


@dataclass
class PreparedRequest:
    """The business request before it is sent, and which header carries which credential."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    json_body: Any = None
    credential_headers: dict[str, str] = field(default_factory=dict)  # header -> credential kind


@dataclass
class CallResult:
    """Everything a test call or probe needs to know about one call."""

    ok: bool
    status: int | None
    duration_ms: float
    steps: list[AuthStep]
    exchange: Exchange | None = None
    request: PreparedRequest | None = None
    error: Exception | None = None
    retried_after_401: bool = False
    body_json: Any = None  # the parsed body when the response is JSON
    secrets: list[str] = field(default_factory=list)  # in memory only: what to redact

    @property
    def error_code(self) -> str:
        return getattr(self.error, "code", "") if self.error else ""

    @property
    def error_message(self) -> str:
        return getattr(self.error, "message", str(self.error)) if self.error else ""


@dataclass
class _Tokens:
    bearer: IssuedToken | None = None
    session: IssuedToken | None = None


@dataclass
class PendingCall:
    """A call between its phases: prepared (database work), sent (network), completed."""

    endpoint: Endpoint
    user: TestUser | None
    variables: dict[str, str]
    result: CallResult
    started: float
    tokens: _Tokens = field(default_factory=_Tokens)
    done: bool = False


def endpoint_call(
    *,
    endpoint: Endpoint,
    test_user: TestUser | None = None,
    variables: Mapping[str, str] | None = None,
) -> CallResult:
    """Run the endpoint's whole call chain and return one result; never raises for the wire."""
    call = call_prepare(endpoint=endpoint, test_user=test_user, variables=variables)
    return call_complete(call=call, sent=call_send(call=call))


def call_prepare(
    *,
    endpoint: Endpoint,
    test_user: TestUser | None = None,
    variables: Mapping[str, str] | None = None,
) -> PendingCall:
    """Auth steps and the rendered request: the part of a call that needs the database."""
    result = CallResult(ok=False, status=None, duration_ms=0.0, steps=[])
    result.secrets = endpoint_secrets(endpoint=endpoint, test_user=test_user)
    # The endpoint's sample values fill what the caller leaves out (probes pass none).
    values = call_variables_merge(endpoint=endpoint, given=variables or {})
    call = PendingCall(endpoint, None, values, result, time.monotonic())
    try:
        _require_variables(endpoint, variables or {})
        call.user = _pick_user(endpoint, test_user)
        call.tokens = _authenticate(endpoint, call.user, result)
        result.request = prepare_request(
            endpoint=endpoint, tokens=call.tokens, variables=call.variables
        )
    except (OutboundError, PortalError) as error:
        _fail(call, error)
    # Values under credential-like names (legacy literals, variables) are secrets too.
    request = result.request
    result.secrets += template_secrets(
        headers=request.headers if request else {},
        body=request.json_body if request else None,
        variables=call.variables,
    )
    return call


def _require_variables(endpoint: Endpoint, given: Mapping[str, str]) -> None:
    """Refuse, before anything is sent, a call whose templates lack a value: an empty
    string sent to the customer would look like a real call that found nothing."""
    if missing := call_variables_missing(endpoint=endpoint, given=given):
        raise TemplateError(missing_variables_message(missing))


def call_send(*, call: PendingCall) -> Exchange | OutboundError | None:
    """Send the prepared request: network only, safe to run on another thread."""
    if call.done or call.result.request is None:
        return None
    try:
        return _send(call.endpoint, call.result.request)
    except OutboundError as error:
        return error


def call_complete(*, call: PendingCall, sent: Exchange | OutboundError | None) -> CallResult:
    """Judge the answer; a 401 refreshes the refused credential and retries once."""
    if not call.done:
        try:
            _complete(call, sent)
        except (OutboundError, PortalError) as error:
            _fail(call, error)
    call.result.duration_ms = round((time.monotonic() - call.started) * 1000, 2)
    return call.result


def _fail(call: PendingCall, error: Exception) -> None:
    result = call.result
    if isinstance(error, AuthStepFailed):
        result.steps.append(error.step)
    result.error = error
    result.exchange = getattr(error, "exchange", None) or result.exchange
    if result.exchange is not None and result.exchange.status is not None:
        # The customer did answer (e.g. a 200 over the size cap): keep what it said.
        result.status = result.exchange.status
    call.done = True


def endpoint_secrets(*, endpoint: Endpoint, test_user: TestUser | None = None) -> list[str]:
    """Every stored secret value a call of this endpoint may carry, for redaction."""
    values = []
    if endpoint.oauth_client and endpoint.oauth_client.client_secret:
        values.append(endpoint.oauth_client.client_secret.reveal())
    if endpoint.api_key and endpoint.api_key.value:
        values.append(endpoint.api_key.value.reveal())
    for user in (test_user, endpoint.default_test_user):
        if user is not None and user.password:
            values.append(user.password.reveal())
    return values


def _pick_user(endpoint: Endpoint, test_user: TestUser | None) -> TestUser | None:
    if endpoint.customer_auth is None:
        return None
    user = test_user or endpoint.default_test_user
    if user is None:
        raise ConfigurationError(
            f"Endpoint {endpoint.name} logs in with customer auth {endpoint.customer_auth.name} "
            "but has no test user: set Default test user on the endpoint's admin page "
            "(Credentials section), or pick a test user for this test call."
        )
    if user.customer_auth_id != endpoint.customer_auth_id:
        raise ConfigurationError(f"Test user {user.label} belongs to another customer auth.")
    return user


def _complete(call: PendingCall, sent: Exchange | OutboundError | None) -> None:
    if isinstance(sent, OutboundError):
        raise sent
    assert sent is not None and call.result.request is not None
    endpoint, result, exchange = call.endpoint, call.result, sent
    if exchange.status == 401 and (call.tokens.bearer or call.tokens.session):
        call.tokens = _refresh_refused(endpoint, call.user, call.tokens, exchange, result)
        result.request = prepare_request(
            endpoint=endpoint, tokens=call.tokens, variables=call.variables
        )
        result.retried_after_401 = True
        exchange = _send(endpoint, result.request)
    result.exchange = exchange
    result.status = exchange.status
    result.ok = exchange.status == endpoint.expected_status
    if not result.ok:
        result.error = http_error(exchange)
    elif "json" in exchange.content_type:
        try:
            result.body_json = exchange.json()
        except MalformedResponse as error:
            result.ok, result.error = False, error
    call.done = True


def _authenticate(endpoint: Endpoint, user: TestUser | None, result: CallResult) -> _Tokens:
    tokens = _Tokens()
    if endpoint.oauth_client is not None:
        tokens.bearer = access_token_get(oauth_client=endpoint.oauth_client)
        _note(result, tokens.bearer)
    if user is not None:
        tokens.session = user_session_get(test_user=user)
        _note(result, tokens.session, identifier_of=endpoint)
    return tokens


def _note(result: CallResult, issued: IssuedToken, identifier_of: Endpoint | None = None) -> None:
    result.steps.append(issued.step)
    result.secrets.append(issued.value)
    if identifier_of is not None:  # what the identifier derives from the token is hidden too
        result.secrets.extend(identifier_secrets(endpoint=identifier_of, token=issued.value))


def _refresh_refused(
    endpoint: Endpoint,
    user: TestUser | None,
    tokens: _Tokens,
    exchange: Exchange,
    result: CallResult,
) -> _Tokens:
    """Refresh the credential the 401 names (both when it does not say) with one retry."""
    refused = refused_credentials(exchange)
    if tokens.bearer and endpoint.oauth_client and refused & {"bearer", "unknown"}:
        tokens.bearer = access_token_get(
            oauth_client=endpoint.oauth_client, rejected=tokens.bearer.value
        )
        _note(result, tokens.bearer)
    if tokens.session and user is not None and refused & {"customer", "unknown"}:
        tokens.session = user_session_get(test_user=user, rejected=tokens.session.value)
        _note(result, tokens.session, identifier_of=endpoint)
    return tokens


def refused_credentials(exchange: Exchange) -> set[str]:
    """Which credential a 401 refuses: 'bearer', 'customer', or 'unknown'."""
    challenge = " ".join(header_values(exchange, "www-authenticate")).lower()
    try:
        payload = exchange.json()
    except OutboundError:
        payload = None
    code = str(payload.get("error", "")).lower() if isinstance(payload, dict) else ""
    if "customer" in code or "jwt" in code or "session" in code:
        return {"customer"}
    if challenge.startswith("bearer") or code in ("invalid_token", "expired_token"):
        return {"bearer"}
    return {"unknown"}


def prepare_request(
    *,
    endpoint: Endpoint,
    tokens: Any,
    variables: Mapping[str, str],
    identifier: str | None = None,
) -> PreparedRequest:
    """Render the templates and attach each credential the endpoint uses.

    ``identifier`` replaces the customer identifier built from ``tokens.session`` (the
    curl export passes shell expansions); it goes where the endpoint sends it either way.
    """
    env = endpoint.environment
    url = env.absolute_url(render_text(endpoint.path, variables, quote_values=True))
    headers = {k: render_text(v, variables) for k, v in endpoint.headers_template.items()}
    body = render_value(endpoint.body_template, variables)
    kinds: dict[str, str] = {}
    if tokens.bearer is not None:
        headers["Authorization"] = f"Bearer {tokens.bearer.value}"
        kinds["Authorization"] = "bearer"
    cookie_name = ""
    if tokens.session is not None and endpoint.identifier_location != IdentifierLocation.NONE:
        identifier = identifier_value(endpoint=endpoint, token=tokens.session.value)
        cookie_name = tokens.session.cookie_name
    if identifier is not None:
        body = identifier_attach(
            endpoint=endpoint,
            identifier=identifier,
            cookie_name=cookie_name,
            headers=headers,
            body=body,
            kinds=kinds,
        )
    if endpoint.api_key is not None:
        if endpoint.api_key.value is None:
            raise ConfigurationError(f"API key {endpoint.api_key.name} has no value set.")
        headers[endpoint.api_key.header_name] = endpoint.api_key.value.reveal()
        kinds[endpoint.api_key.header_name] = "api_key"
    raw = None if body is None else json.dumps(body).encode()
    if raw is not None and not any(k.lower() == "content-type" for k in headers):
        headers["content-type"] = "application/json"
    return PreparedRequest(endpoint.method, url, headers, raw, body, kinds)


def identifier_attach(
    *,
    endpoint: Endpoint,
    identifier: str,
    cookie_name: str,
    headers: dict[str, str],
    body: Any,
    kinds: dict[str, str],
) -> Any:
    """Put ``identifier`` where the endpoint sends it; returns the body (changed if there).

    One function for the portal's calls and the curl export, so both send it alike.
    """
    location = endpoint.identifier_location
    if location == IdentifierLocation.HEADER:
        headers[endpoint.identifier_header] = identifier
        kinds[endpoint.identifier_header] = "customer"
    elif location == IdentifierLocation.COOKIE:
        auth = endpoint.customer_auth
        name = cookie_name or (auth.cookie_name if auth else "") or "session"
        headers["Cookie"] = f"{name}={identifier}"
        kinds["Cookie"] = "customer_cookie"
    elif location == IdentifierLocation.BODY:
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ConfigurationError(
                "The identifier goes in the body, but the body is not an object."
            )
        body = {**body, endpoint.identifier_body_field: identifier}
    return body


def call_request(*, call: PendingCall) -> OutboundRequest | None:
    """The request a prepared call would send, for senders other than call_send."""
    if call.done or call.result.request is None:
        return None
    return _outbound_request(call.endpoint, call.result.request)


def _send(endpoint: Endpoint, request: PreparedRequest) -> Exchange:
    return send(_outbound_request(endpoint, request))


def _outbound_request(endpoint: Endpoint, request: PreparedRequest) -> OutboundRequest:
    return environment_request(
        environment=endpoint.environment,
        method=request.method,
        url=request.url,
        headers=request.headers,
        body=request.body,
        deadline_ms=endpoint.timeout_ms,
        follow_redirects=endpoint.follow_redirects,
        sensitive_headers=tuple(request.credential_headers),
    )
