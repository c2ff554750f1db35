"""The list of readiness checks, and running them so that none can break the run."""

from __future__ import annotations

import logging
from typing import Any

from integrations.models import Environment
from integrations.outbound import redact_text
from integrations.services.readiness import (
    checks_auth,
    checks_endpoints,
    checks_identity,
    checks_jwt,
    checks_oauth,
    fixes,
    latency,
    tls,
)
from integrations.services.readiness.context import ReadinessContext, readiness_context
from integrations.services.readiness.evidence import evidence_redacted
from integrations.services.readiness.results import Check, CheckResult, Verdict

logger = logging.getLogger(__name__)

CRASH_FIX = "Nothing to change on your side yet: this check could not run and will be rerun."

# In report order: authentication, the identifier, the JWT, OAuth, endpoints, transport.
CHECKS = (
    Check(
        "customer_auth.login",
        "Customer authentication issues a token with an expiry",
        "Answer customer_authenticate with the token (or cookie), issued_at and expires_in.",
        checks_auth.login_check,
        fixes.login_fix,
    ),
    Check(
        "customer_auth.expiry",
        "Token lifetime is short but usable",
        "Issue tokens that live between a few minutes and a day.",
        checks_auth.expiry_check,
    ),
    Check(
        "identity.unique",
        "Customer identifier is unique per customer",
        "Give every customer their own identifier.",
        checks_identity.unique_check,
    ),
    Check(
        "identity.consistent",
        "Customer identifier is consistent across logins",
        "Derive the identifier from the customer, not from the login session.",
        checks_identity.consistent_check,
    ),
    Check(
        "identity.opaque",
        "Customer identifier is opaque (no personal data)",
        "Hash or encrypt the identifier; carry no e-mail, phone, name or ID number in it.",
        checks_identity.opaque_check,
    ),
    Check(
        "jwt.claims",
        "JWT is signed and its exp agrees with expires_in",
        "Sign the JWT (never alg none) and set exp to issued_at + expires_in.",
        checks_jwt.claims_check,
        fixes.jwt_claims_fix,
    ),
    Check(
        "jwt.signature",
        "JWT signature verifies with the customer's key",
        "Sign JWTs with the key you shared (or publish it in the JWKS).",
        checks_jwt.signature_check,
    ),
    Check(
        "oauth.token",
        "OAuth token endpoint issues a Bearer token with an expiry",
        "Answer the client credentials grant with token_type Bearer and expires_in.",
        checks_oauth.token_check,
        fixes.oauth_token_fix,
    ),
    Check(
        "oauth.wrong_secret",
        "OAuth token endpoint refuses a wrong client secret",
        "Answer a wrong client secret with 401 invalid_client (RFC 6749 section 5.2).",
        checks_oauth.wrong_secret_check,
        fixes.wrong_secret_fix,
    ),
    Check(
        "endpoint.requires_bearer",
        "Endpoint refuses a call without the bearer token",
        "Refuse calls without a valid access token with 401.",
        checks_endpoints.requires_bearer_check,
    ),
    Check(
        "endpoint.requires_api_key",
        "Endpoint refuses a call with a wrong API key",
        "Refuse calls with a missing or wrong API key with 401 or 403.",
        checks_endpoints.requires_api_key_check,
        fixes.api_key_fix,
    ),
    Check(
        "endpoint.requires_identifier",
        "Endpoint refuses a call without the customer identifier",
        "Refuse calls without a valid customer identifier with 401.",
        checks_endpoints.requires_identifier_check,
        fixes.identifier_fix,
    ),
    Check(
        "endpoint.accepts_complete_call",
        "Endpoint accepts the complete call",
        "Answer a call carrying every credential with the documented status.",
        checks_endpoints.accepts_complete_check,
    ),
    Check(
        "transport.tls",
        "Production uses HTTPS with a valid certificate and TLS 1.2+",
        "Serve production over HTTPS with a publicly trusted certificate and TLS 1.2 or newer.",
        tls.tls_check,
    ),
    Check(
        "latency",
        "Each step answers within the latency budget",
        "Make the step answer within the environment's latency budget.",
        latency.latency_check,
    ),
)


def checks_run(*, environment: Environment, checks: tuple[Check, ...] = CHECKS) -> list[dict]:
    """Run every check and return the results as redacted JSON-able dicts."""
    context = readiness_context(environment=environment)
    results: list[CheckResult] = []
    for check in checks:
        results += _run_one(check, context)
    # Redacted last, so a token fetched by a late check is hidden in early evidence too.
    return [_stored(result, context.secrets) for result in results]


def _run_one(check: Check, context: ReadinessContext) -> list[CheckResult]:
    try:
        return check.run(check, context)
    except Exception as error:
        # The type only: a message could carry a value the redaction has not seen yet.
        logger.warning(
            "readiness check %s crashed on environment %s: %s",
            check.id,
            context.environment.pk,
            type(error).__name__,
        )
        message = f"The check crashed ({type(error).__name__}: {error})."
        return [check.result(Verdict.ERROR, message=message, fix=CRASH_FIX)]


def _stored(result: CheckResult, secrets: list[str]) -> dict[str, Any]:
    return {
        "check": result.check,
        "title": result.title,
        "verdict": str(result.verdict),
        "target": redact_text(result.target, secrets=secrets),
        "message": redact_text(result.message, secrets=secrets),
        "fix": result.fix,
        "evidence": evidence_redacted(result.evidence, secrets=secrets),
    }
