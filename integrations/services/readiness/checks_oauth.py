"""Readiness checks of the OAuth 2.0 token endpoint (client credentials grant).

The guide's answer is a Bearer token with ``expires_in``; RFC 6749 §5.2 says a wrong
client secret is answered ``invalid_client`` (400 or 401), never with a token, and a
server error there would make the platform retry a mistake forever.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable

from integrations.errors import TokenEndpointError
from integrations.models import OAuthClient
from integrations.outbound import Exchange, MalformedResponse, UpstreamHttpError
from integrations.services.readiness.context import FetchFailure, ReadinessContext
from integrations.services.readiness.evidence import error_evidence, error_message
from integrations.services.readiness.results import Check, CheckResult, Verdict
from integrations.services.token_fetch import oauth_token_fetch

NO_CLIENT = "The environment has no OAuth client configured."


ClientJudge = Callable[[Check, ReadinessContext, OAuthClient], CheckResult]


def _per_client(check: Check, ctx: ReadinessContext, judge: ClientJudge) -> list[CheckResult]:
    clients = ctx.oauth_clients()
    if not clients:
        return [check.result(Verdict.NOT_APPLICABLE, message=NO_CLIENT)]
    return [check.named(judge(check, ctx, client), client) for client in clients]


# --- oauth.token ---------------------------------------------------------------------


def token_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return _per_client(check, ctx, _token_judge)


def _token_judge(check: Check, ctx: ReadinessContext, client: OAuthClient) -> CheckResult:
    outcome = ctx.bearer(client)
    if outcome.error is not None:
        return check.result(
            Verdict.FAIL,
            target=client.name,
            message=f"No token: {error_message(outcome.error)}",
            evidence=error_evidence(outcome.error),
        )
    fetched = outcome.fetched
    assert fetched is not None
    lifetime = round((fetched.expires_at - fetched.issued_at).total_seconds())
    evidence = {
        "token_type": fetched.extra.get("token_type", ""),
        "lifetime_s": lifetime,
        "exchange": fetched.exchange,
    }
    if not _has_field(fetched.exchange, client.expires_in_field):
        message = f"The token answer has no '{client.expires_in_field}'."
        return check.result(Verdict.FAIL, target=client.name, message=message, evidence=evidence)
    message = f"A Bearer token living {lifetime} s."
    return check.result(Verdict.PASS, target=client.name, message=message, evidence=evidence)


def _has_field(exchange: Exchange, name: str) -> bool:
    try:
        payload = exchange.json()
    except MalformedResponse:
        return False
    return isinstance(payload, dict) and payload.get(name) not in (None, "")


# --- oauth.wrong_secret --------------------------------------------------------------


def wrong_secret_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return _per_client(check, ctx, _wrong_secret_judge)


def _wrong_secret_judge(check: Check, ctx: ReadinessContext, client: OAuthClient) -> CheckResult:
    wrong = f"readiness-wrong-secret-{secrets.token_hex(8)}"
    ctx.remember(wrong)
    # An unsaved copy carries the wrong secret: the real row is never touched.
    probe = copy.copy(client)
    probe.client_secret = wrong
    try:
        fetched = oauth_token_fetch(oauth_client=probe)
    except TokenEndpointError as error:
        return _judge_refusal(check, client, error)
    except FetchFailure as error:
        return _judge_failure(check, client, error)
    ctx.remember(fetched.value)
    return check.result(
        Verdict.FAIL,
        target=client.name,
        message="A wrong client secret was answered with a token.",
        evidence={"exchange": fetched.exchange},
    )


def _judge_refusal(check: Check, client: OAuthClient, error: TokenEndpointError) -> CheckResult:
    evidence = error_evidence(error)
    if error.code == "invalid_client":
        message = f"A wrong client secret gets {error.status} invalid_client."
        return check.result(Verdict.PASS, target=client.name, message=message, evidence=evidence)
    message = f"A wrong client secret gets {error.status} {error.code}, not invalid_client."
    return check.result(Verdict.WARN, target=client.name, message=message, evidence=evidence)


def _judge_failure(check: Check, client: OAuthClient, error: Exception) -> CheckResult:
    evidence = error_evidence(error)
    status = getattr(error, "status", None)
    if isinstance(error, UpstreamHttpError) and status is not None and status < 500:
        message = f"A wrong client secret gets {status} without an RFC 6749 error body."
        return check.result(Verdict.WARN, target=client.name, message=message, evidence=evidence)
    message = f"A wrong client secret is not refused properly: {error_message(error)}"
    return check.result(Verdict.FAIL, target=client.name, message=message, evidence=evidence)
