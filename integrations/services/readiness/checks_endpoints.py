"""Readiness checks of the business endpoints: each credential is really required.

A business API that answers without the bearer token, with a wrong API key or without
the customer identifier hands customer data to anyone who asks. Each check sends the
endpoint's real request with one credential taken away (or spoiled) and expects 401
or 403; a last one sends the complete call and expects the endpoint's usual status.
Credentials come from the run's fresh fetches, never from the token cache.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from integrations.choices import IdentifierLocation
from integrations.errors import PortalError
from integrations.models import Endpoint, TestUser
from integrations.outbound import Exchange, OutboundError
from integrations.services.assertions import body_kind, not_json_described
from integrations.services.calls import prepare_request
from integrations.services.exchanges import http_error
from integrations.services.identifier import identifier_secrets
from integrations.services.readiness.context import ReadinessContext
from integrations.services.readiness.evidence import error_evidence, error_message
from integrations.services.readiness.results import Check, CheckResult, Verdict
from integrations.services.templates import template_secrets
from integrations.services.wire import environment_send

NO_ENDPOINT = "The environment has no endpoint configured."
Judge = Callable[[Check, ReadinessContext, Endpoint], CheckResult]


@dataclass(frozen=True)
class Presented:
    """A credential value as prepare_request attaches it."""

    value: str
    cookie_name: str = ""


@dataclass(frozen=True)
class Credentials:
    bearer: Presented | None = None
    session: Presented | None = None


class CredentialsUnavailable(PortalError):
    """A fresh token or login the call needs could not be had; the check cannot run."""

    code = "credentials_unavailable"


def per_endpoint(check: Check, ctx: ReadinessContext, judge: Judge) -> list[CheckResult]:
    endpoints = ctx.endpoints()
    if not endpoints:
        return [check.result(Verdict.NOT_APPLICABLE, message=NO_ENDPOINT)]
    return [check.named(_guarded(check, ctx, endpoint, judge), endpoint) for endpoint in endpoints]


def _guarded(check: Check, ctx: ReadinessContext, endpoint: Endpoint, judge: Judge) -> CheckResult:
    """The judge's result; a call that cannot be made or sent fails with the reason."""
    try:
        return judge(check, ctx, endpoint)
    except (OutboundError, PortalError) as error:
        return check.result(
            Verdict.FAIL,
            target=endpoint.slug,
            message=f"The call could not be made: {error_message(error)}",
            evidence=error_evidence(error),
        )


def endpoint_user(ctx: ReadinessContext, endpoint: Endpoint) -> TestUser | None:
    """The test user whose identifier the endpoint's calls carry."""
    if endpoint.customer_auth is None:
        return None
    if endpoint.default_test_user is not None:
        return endpoint.default_test_user
    users = ctx.test_users(endpoint.customer_auth)
    if not users:
        raise CredentialsUnavailable(f"customer auth {endpoint.customer_auth.name} has no user")
    return users[0]


def credentials_fresh(ctx: ReadinessContext, endpoint: Endpoint) -> Credentials:
    """Every credential the endpoint carries, from this run's fresh fetches."""
    bearer = session = None
    if endpoint.oauth_client is not None:
        outcome = ctx.bearer(endpoint.oauth_client)
        if outcome.error is not None or outcome.fetched is None:
            raise CredentialsUnavailable(f"no access token ({error_message(outcome.error)})")
        bearer = Presented(outcome.fetched.value)
    user = endpoint_user(ctx, endpoint)
    if user is not None:
        login = ctx.login(user)
        if login.error is not None or login.fetched is None:
            raise CredentialsUnavailable(
                f"no login for {user.label} ({error_message(login.error)})"
            )
        session = Presented(login.fetched.value, login.fetched.extra.get("cookie_name", ""))
        # A claim sent as the identifier ({claims.sub}) is hidden in evidence like the JWT.
        ctx.remember(*identifier_secrets(endpoint=endpoint, token=session.value))
    return Credentials(bearer=bearer, session=session)


def endpoint_send(
    ctx: ReadinessContext,
    endpoint: Endpoint,
    credentials: Credentials,
    *,
    api_key_value: str | None = None,
) -> Exchange:
    """Send the endpoint's request with exactly ``credentials`` (and a replaced API key)."""
    variables = endpoint.sample_variables or {}
    prepared = prepare_request(endpoint=endpoint, tokens=credentials, variables=variables)
    headers = dict(prepared.headers)
    # Values under credential-like names (legacy template literals) stay out of the report.
    ctx.remember(*template_secrets(headers=headers, body=prepared.json_body, variables=variables))
    if api_key_value is not None and endpoint.api_key is not None:
        headers[endpoint.api_key.header_name] = api_key_value
    return environment_send(
        environment=ctx.environment,
        method=prepared.method,
        url=prepared.url,
        headers=headers,
        body=prepared.body,
        deadline_ms=endpoint.timeout_ms,
        sensitive_headers=tuple(prepared.credential_headers),
    )


def _refusal(check: Check, endpoint: Endpoint, exchange: Exchange, what: str) -> CheckResult:
    status = exchange.status or 0
    evidence = {"exchange": exchange}
    if status in (401, 403):
        verdict, message = Verdict.PASS, f"A call {what} is refused with {status}."
    elif 400 <= status < 500:
        verdict, message = Verdict.WARN, f"A call {what} gets {status}; 401 or 403 is expected."
    elif status >= 500:
        verdict, message = Verdict.FAIL, f"A call {what} makes the API fail with {status}."
    else:
        verdict, message = Verdict.FAIL, f"A call {what} is answered {status}: it is not refused."
    return check.result(verdict, target=endpoint.slug, message=message, evidence=evidence)


def _not_carried(check: Check, endpoint: Endpoint, what: str) -> CheckResult:
    message = f"The endpoint is not configured to send {what}."
    return check.result(Verdict.NOT_APPLICABLE, target=endpoint.slug, message=message)


# --- endpoint.requires_bearer --------------------------------------------------------


def requires_bearer_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_endpoint(check, ctx, _requires_bearer)


def _requires_bearer(check: Check, ctx: ReadinessContext, endpoint: Endpoint) -> CheckResult:
    if endpoint.oauth_client is None:
        return _not_carried(check, endpoint, "a bearer token")
    credentials = replace(credentials_fresh(ctx, endpoint), bearer=None)
    exchange = endpoint_send(ctx, endpoint, credentials)
    return _refusal(check, endpoint, exchange, "without the bearer token")


# --- endpoint.requires_api_key -------------------------------------------------------


def requires_api_key_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_endpoint(check, ctx, _requires_api_key)


def _requires_api_key(check: Check, ctx: ReadinessContext, endpoint: Endpoint) -> CheckResult:
    if endpoint.api_key is None:
        return _not_carried(check, endpoint, "an API key")
    wrong = f"readiness-wrong-key-{secrets.token_hex(8)}"
    ctx.remember(wrong)
    exchange = endpoint_send(ctx, endpoint, credentials_fresh(ctx, endpoint), api_key_value=wrong)
    return _refusal(check, endpoint, exchange, "with a wrong API key")


# --- endpoint.requires_identifier ----------------------------------------------------


def requires_identifier_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_endpoint(check, ctx, _requires_identifier)


def _requires_identifier(check: Check, ctx: ReadinessContext, endpoint: Endpoint) -> CheckResult:
    location = endpoint.identifier_location
    if endpoint.customer_auth is None or location == IdentifierLocation.NONE:
        return _not_carried(check, endpoint, "a customer identifier")
    credentials = replace(credentials_fresh(ctx, endpoint), session=None)
    exchange = endpoint_send(ctx, endpoint, credentials)
    return _refusal(check, endpoint, exchange, "without the customer identifier")


# --- endpoint.accepts_complete_call --------------------------------------------------


def accepts_complete_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_endpoint(check, ctx, _accepts_complete)


def _accepts_complete(check: Check, ctx: ReadinessContext, endpoint: Endpoint) -> CheckResult:
    exchange = endpoint_send(ctx, endpoint, credentials_fresh(ctx, endpoint))
    evidence = {"exchange": exchange}
    expected = endpoint.expected_status
    if exchange.status == expected and body_kind(exchange.body) == "an HTML page":
        # A sign-in wall or a proxy page in front of the API answers 200 too.
        described = not_json_described(exchange, secrets=ctx.secrets)
        message = f"The complete call is answered {expected}, but {described}."
        fix = "Answer the call with the API's JSON, not a web page (is a sign-in page in front?)."
        return check.result(
            Verdict.WARN, target=endpoint.slug, message=message, fix=fix, evidence=evidence
        )
    if exchange.status == expected:
        message = f"The complete call is answered {expected}."
        return check.result(Verdict.PASS, target=endpoint.slug, message=message, evidence=evidence)
    message = f"The complete call is answered {exchange.status}, not {expected}."
    # The same error code a probe and a test call store for this answer.
    evidence = error_evidence(http_error(exchange))
    return check.result(Verdict.FAIL, target=endpoint.slug, message=message, evidence=evidence)
