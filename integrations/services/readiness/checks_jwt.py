"""Readiness checks of the customer JWT itself: its header and claims, and its signature.

The guide says the JWT is *signed* and that "only the server can decode" it; an
``alg: none`` token is neither. ``exp`` must be there and agree with ``expires_in``,
or the platform and the customer's API disagree on when a session ends.
"""

from __future__ import annotations

from typing import Any

from integrations.models import CustomerAuth
from integrations.outbound import MalformedResponse, OutboundError, redact_url
from integrations.services.readiness.checks_auth import first_login, per_customer_auth
from integrations.services.readiness.context import Login, ReadinessContext
from integrations.services.readiness.evidence import (
    claims_evidence,
    error_evidence,
    error_message,
)
from integrations.services.readiness.jwts import (
    JwtVerificationError,
    jwt_verify_with_jwks,
    jwt_verify_with_key,
)
from integrations.services.readiness.results import Check, CheckResult, Verdict
from integrations.services.wire import environment_send

# How far exp may sit from issued_at + expires_in: rounding, and the time the answer took.
EXP_TOLERANCE_S = 60
NOT_A_JWT = "The customer identifier is not a JWT (an opaque token or cookie): nothing to check."


def _jwt_login(check: Check, ctx: ReadinessContext, auth: CustomerAuth) -> Login | CheckResult:
    login = first_login(check, ctx, auth)
    if isinstance(login, Login) and (login.identity is None or login.identity.jwt is None):
        return check.result(Verdict.NOT_APPLICABLE, target=auth.name, message=NOT_A_JWT)
    return login


# --- jwt.claims ----------------------------------------------------------------------


def claims_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_customer_auth(check, ctx, _claims_judge)


def _claims_judge(check: Check, ctx: ReadinessContext, auth: CustomerAuth) -> CheckResult:
    login = _jwt_login(check, ctx, auth)
    if isinstance(login, CheckResult):
        return login
    assert login.identity is not None and login.identity.jwt is not None
    decoded = login.identity.jwt
    evidence: dict[str, Any] = claims_evidence(decoded, identity_claim=auth.identity_claim)
    problems = []
    if decoded.algorithm.lower() == "none" or not decoded.algorithm:
        problems.append("the JWT is not signed (alg none)")
    problems += _exp_problems(auth, login, decoded.claims.get("exp"), evidence)
    if problems:
        message = _sentence("; ".join(problems))
        return check.result(Verdict.FAIL, target=auth.name, message=message, evidence=evidence)
    message = f"Signed with {decoded.algorithm}; exp agrees with '{auth.expires_in_field}'."
    return check.result(Verdict.PASS, target=auth.name, message=message, evidence=evidence)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _exp_problems(
    auth: CustomerAuth, login: Login, exp: Any, evidence: dict[str, Any]
) -> list[str]:
    if exp is None:
        return ["the JWT has no exp claim"]
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return [f"the exp claim is not a number ({type(exp).__name__})"]
    assert login.fetched is not None
    expected = login.fetched.expires_at.timestamp()
    evidence["exp_minus_expires_in_s"] = round(exp - expected)
    if abs(exp - expected) > EXP_TOLERANCE_S:
        return [
            f"exp is {round(exp - expected)} s off {_start(auth)} + '{auth.expires_in_field}' "
            f"(more than {EXP_TOLERANCE_S} s)"
        ]
    return []


def _start(auth: CustomerAuth) -> str:
    return f"'{auth.issued_at_field}'" if auth.issued_at_field else "the time of issue"


# --- jwt.signature -------------------------------------------------------------------


def signature_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_customer_auth(check, ctx, _signature_judge)


def _signature_judge(check: Check, ctx: ReadinessContext, auth: CustomerAuth) -> CheckResult:
    if auth.jwt_verification_key is None and not auth.jwks_url:
        message = "No verification key or JWKS URL is configured: the signature was not checked."
        return check.result(Verdict.NOT_APPLICABLE, target=auth.name, message=message)
    login = _jwt_login(check, ctx, auth)
    if isinstance(login, CheckResult):
        return login
    assert login.fetched is not None
    evidence: dict[str, Any] = {}
    try:
        algorithm = _verify(ctx, auth, login.fetched.value, evidence)
    except (JwtVerificationError, OutboundError) as error:
        evidence.update(error_evidence(error))
        message = error_message(error)
        return check.result(Verdict.FAIL, target=auth.name, message=message, evidence=evidence)
    source = "the JWKS" if auth.jwks_url else "the configured key"
    message = f"The {algorithm} signature verifies with {source}."
    return check.result(Verdict.PASS, target=auth.name, message=message, evidence=evidence)


def _verify(ctx: ReadinessContext, auth: CustomerAuth, token: str, evidence: dict) -> str:
    if auth.jwt_verification_key is not None:
        return jwt_verify_with_key(token=token, key_text=auth.jwt_verification_key.reveal())
    return jwt_verify_with_jwks(token=token, jwks=_jwks_fetch(ctx, auth, evidence))


def _jwks_fetch(ctx: ReadinessContext, auth: CustomerAuth, evidence: dict) -> Any:
    """The JWKS document, fetched through the outbound edge like any customer call.

    The evidence names the key ids only: a JWKS that wrongly publishes a shared
    (``oct``) key must not have it copied into the report.
    """
    url = ctx.environment.absolute_url(auth.jwks_url)
    exchange = environment_send(
        environment=ctx.environment, method="GET", url=url, headers={"accept": "application/json"}
    )
    evidence["jwks"] = {"url": redact_url(url), "status": exchange.status}
    if exchange.status != 200:
        raise JwtVerificationError(
            f"The JWKS URL answered {exchange.status}, not 200.", code="jwks_unavailable"
        )
    try:
        document = exchange.json()
    except MalformedResponse:
        raise JwtVerificationError("The JWKS is not JSON.", code="jwks_invalid") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if isinstance(keys, list):
        evidence["jwks"]["keys"] = [_key_summary(key) for key in keys if isinstance(key, dict)]
    return document


def _key_summary(key: dict[str, Any]) -> dict[str, str]:
    return {name: str(key.get(name, ""))[:80] for name in ("kid", "kty", "alg", "use")}
