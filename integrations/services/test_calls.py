"""Test calls: run an endpoint for a person, store what went over the wire, redacted."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from django.http import HttpRequest

from integrations.choices import AuditAction
from integrations.models import Endpoint, TestCall, TestUser
from integrations.outbound.redaction import redact_text, secret_matcher
from integrations.outbound.secret_forms import SecretMatcher
from integrations.services.audit import audit_record
from integrations.services.calls import CallResult, endpoint_call
from integrations.services.curl import curl_script
from integrations.services.tokens import AuthStep

logger = logging.getLogger(__name__)

# Stored bodies are cut here; the page says so. The wire cap is separate (outbound).
STORED_BODY_CHARS = 64 * 1024


def test_call_run(
    *,
    endpoint: Endpoint,
    test_user: TestUser | None,
    actor: Any,
    variables: Mapping[str, str] | None = None,
    request: HttpRequest | None = None,
) -> TestCall:
    """Run the endpoint once and keep the redacted record, with a curl export and an audit."""
    result = endpoint_call(endpoint=endpoint, test_user=test_user, variables=variables)
    call = TestCall.objects.create(
        endpoint=endpoint,
        test_user=test_user or endpoint.default_test_user,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=actor.get_username() if getattr(actor, "is_authenticated", False) else "system",
        **test_call_record(
            endpoint=endpoint, test_user=test_user, result=result, variables=variables
        ),
    )
    audit_record(
        action=AuditAction.TEST_CALL,
        actor=actor,
        request=request,
        obj=endpoint,
        detail={"test_call": call.pk, "status": call.status, "error_code": call.error_code},
    )
    logger.info(
        "test call %s of endpoint %s: status=%s error=%s",
        call.pk,
        endpoint.pk,
        call.status,
        call.error_code or "-",
    )
    return call


def test_call_record(
    *,
    endpoint: Endpoint,
    test_user: TestUser | None,
    result: CallResult,
    variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The redacted fields of a TestCall row for one call result."""
    secrets = secret_matcher(result.secrets)  # every spelling compiled once for the record
    exchange = result.exchange.redacted(secrets=secrets) if result.exchange else {}
    user = test_user or endpoint.default_test_user
    # Built from the configuration, so a call stopped by an auth step has one too.
    curl = curl_script(
        endpoint=endpoint, test_user=user, variables=variables or {}, secrets=secrets
    )
    return {
        "ok": result.ok,
        "status": result.status,
        "error_code": result.error_code[:100],
        "error_message": redact_text(result.error_message, secrets=secrets),
        "duration_ms": result.duration_ms,
        "request": _truncated(exchange.get("request", {})),
        "response": _response_record(exchange, retried=result.retried_after_401),
        "auth_steps": [_step_record(step, secrets) for step in result.steps],
        "curl": curl,
    }


# The names start with "test_" because they are about test calls; they are not pytest tests.
test_call_run.__test__ = False  # type: ignore[attr-defined]
test_call_record.__test__ = False  # type: ignore[attr-defined]


def _response_record(exchange: dict[str, Any], *, retried: bool = False) -> dict[str, Any]:
    """Whatever arrived: the answer (status None when none did), hops followed, timings.

    A call that failed on the wire still went out, so its record is as full as it can be:
    that is the record a solution engineer needs most.
    """
    if not exchange:
        return {}  # nothing was sent (an auth step or the configuration failed first)
    arrived = exchange.get("response") or {"status": None}
    timings = {key: exchange.get(key) for key in ("elapsed_ms", "ttfb_ms", "peer_ip")}
    again = {"retried_after_401": True} if retried else {}  # the answer shown is the retry's
    return _truncated(arrived) | _redirects(exchange) | timings | again


def _redirects(exchange: dict[str, Any]) -> dict[str, Any]:
    return {"redirects": exchange["redirects"]} if exchange.get("redirects") else {}


def _truncated(part: dict[str, Any]) -> dict[str, Any]:
    body = part.get("body")
    if isinstance(body, str) and len(body) > STORED_BODY_CHARS:
        return {**part, "body": body[:STORED_BODY_CHARS], "body_truncated_at": STORED_BODY_CHARS}
    return part


def _step_record(step: AuthStep, secrets: SecretMatcher) -> dict[str, Any]:
    record = asdict(step)
    record.pop("exchange")
    record["expires_at"] = step.expires_at.isoformat() if step.expires_at else None
    record["error_message"] = redact_text(step.error_message, secrets=secrets)
    if step.exchange is not None:
        record["exchange"] = step.exchange.redacted(secrets=secrets)
    return record
