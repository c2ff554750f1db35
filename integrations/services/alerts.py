"""Delivering health alerts from the outbox: a Slack-compatible webhook and e-mail.

Each row is delivered on its own, in three steps that commit separately: claim it (a
lease longer than the send timeout, and an in-flight attempt row), send it outside any
transaction, then record the outcome. A worker that dies mid-send leaves the claim to
run out, after which the row is sent again; an alert is never sent by two workers at
once, and every send carries the same idempotency key, so a receiver that got the first
one can drop the repeat. Failed sends are retried with backoff, up to MAX_ATTEMPTS.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet

from integrations import clock
from integrations.choices import AlertAttemptOutcome, AlertChannel, AlertStatus
from integrations.models import AlertDeliveryAttempt, AlertOutbox, HealthTransition
from integrations.outbound import (
    OutboundError,
    OutboundRequest,
    UpstreamHttpError,
    UpstreamTimeout,
    redact_text,
    send,
)

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Claim:
    """A row this worker may send until ``until``, and the attempt it opened for it."""

    row: AlertOutbox
    attempt: AlertDeliveryAttempt
    until: datetime


@dataclass(frozen=True)
class SendResult:
    """How one send ended; ``error_message`` is already redacted."""

    outcome: AlertAttemptOutcome
    duration_ms: float
    http_status: int | None = None
    error_code: str = ""
    error_message: str = ""


def alert_idempotency_key(transition: HealthTransition) -> str:
    """The same for every send of one transition's alert: the transition's id."""
    return str(transition.pk)


def alert_payload(transition: HealthTransition) -> dict[str, Any]:
    """Slack-compatible JSON: ``text`` for people, ``portal`` for machines."""
    endpoint = transition.endpoint
    env = endpoint.environment
    text = (
        f"[{env.customer.name} / {env.name}] {endpoint.name}: "
        f"{transition.from_state} → {transition.to_state}. {transition.reason}"
    )
    return {
        "text": text,
        "idempotency_key": alert_idempotency_key(transition),
        "portal": {
            "transition_id": transition.pk,
            "customer": env.customer.slug,
            "environment": env.slug,
            "endpoint": endpoint.slug,
            "endpoint_id": endpoint.pk,
            "from": transition.from_state,
            "to": transition.to_state,
            "at": transition.at.isoformat(),
            "reason": transition.reason,
            "failing_step": transition.failing_step,
        },
    }


def alerts_deliver(*, limit: int = 20) -> int:
    """Deliver due alerts one by one, at most ``limit``; returns how many were sent.

    The limit keeps one task run well inside Celery's time limit; beat starts the next.
    """
    sent = 0
    for _ in range(limit):
        claim = alert_claim_next()
        if claim is None:
            break
        sent += alert_send(claim=claim).outcome == AlertAttemptOutcome.OK
    return sent


# --- claim -----------------------------------------------------------------------------


def _due(now: datetime) -> QuerySet[AlertOutbox]:
    unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return AlertOutbox.objects.filter(
        unclaimed, status=AlertStatus.PENDING, next_attempt_at__lte=now
    ).order_by("pk")


def alert_claim_next() -> Claim | None:
    """Claim the oldest due row and open its attempt, committed before anything is sent."""
    now = clock.now()
    until = now + timedelta(seconds=settings.ALERT_CLAIM_LEASE_S)
    with transaction.atomic():
        rows = _due(now).select_related("transition__endpoint__environment__customer")
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        row = rows.first()
        if row is None:
            return None
        # An attempt still in flight belongs to a worker that died: its lease ran out.
        row.deliveries.filter(outcome=AlertAttemptOutcome.IN_FLIGHT).update(
            outcome=AlertAttemptOutcome.LOST
        )
        AlertOutbox.objects.filter(pk=row.pk).update(
            claimed_until=until, attempts=F("attempts") + 1
        )
        row.refresh_from_db(fields=["claimed_until", "attempts"])
        attempt = AlertDeliveryAttempt.objects.create(
            outbox=row, number=row.attempts, started_at=now
        )
    return Claim(row=row, attempt=attempt, until=until)


# --- send ------------------------------------------------------------------------------


def _send_webhook(payload: dict[str, Any]) -> int | None:
    request = OutboundRequest(
        method="POST",
        url=settings.ALERT_WEBHOOK_URL,
        headers={
            "content-type": "application/json",
            IDEMPOTENCY_HEADER: payload["idempotency_key"],
        },
        body=json.dumps(payload).encode(),
        connect_timeout_s=settings.ALERT_SEND_TIMEOUT_S,
        deadline_s=settings.ALERT_SEND_TIMEOUT_S,
    )
    return send(request).status  # raises for any failure or a 4xx/5xx answer


def _message_id(key: str) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return f"<portal-alert-{key}@{domain}>"


def _send_email(payload: dict[str, Any]) -> None:
    info, key = payload["portal"], payload["idempotency_key"]
    subject = f"[portal] {info['customer']}/{info['environment']}/{info['endpoint']}: {info['to']}"
    message = EmailMessage(
        subject,
        payload["text"],
        settings.DEFAULT_FROM_EMAIL,
        settings.ALERT_EMAILS,
        # The same Message-ID on every send lets mail systems fold a repeat into one.
        headers={"Message-ID": _message_id(key), IDEMPOTENCY_HEADER: key},
        connection=get_connection(timeout=settings.ALERT_SEND_TIMEOUT_S),
    )
    message.send()


def _redacted(text: str) -> str:
    # A webhook URL often is the credential (its path or query), and errors may quote
    # it whole or only its path.
    hook = urlsplit(settings.ALERT_WEBHOOK_URL or "")
    parts = [settings.ALERT_WEBHOOK_URL, hook.path, hook.query, hook.password]
    secrets = [s for s in (*parts, settings.EMAIL_HOST_PASSWORD) if s and len(s) >= 8]
    return redact_text(text, secrets=secrets)[:500]


def _failure(error: Exception, started: float) -> SendResult:
    timed_out = isinstance(error, UpstreamTimeout | TimeoutError)
    message = error.message if isinstance(error, OutboundError) else str(error)
    return SendResult(
        outcome=AlertAttemptOutcome.TIMEOUT if timed_out else AlertAttemptOutcome.FAILED,
        duration_ms=(time.monotonic() - started) * 1000,
        http_status=error.status if isinstance(error, UpstreamHttpError) else None,
        error_code=getattr(error, "code", type(error).__name__),
        error_message=_redacted(message or type(error).__name__),
    )


def alert_send(*, claim: Claim) -> SendResult:
    """Send a claimed row (no transaction is open meanwhile) and record how it went."""
    payload = alert_payload(claim.row.transition)
    started = time.monotonic()
    try:
        status = None
        if claim.row.channel == AlertChannel.WEBHOOK:
            status = _send_webhook(payload)
        else:
            _send_email(payload)
    except (OutboundError, OSError) as error:
        result = _failure(error, started)
    except Exception as error:
        # Unexpected: recorded without its text (it may hold anything), then raised.
        _record(claim, _failure(RuntimeError(type(error).__name__), started))
        raise
    else:
        duration_ms = (time.monotonic() - started) * 1000
        result = SendResult(AlertAttemptOutcome.OK, duration_ms, http_status=status)
    _record(claim, result)
    return result


# --- record ----------------------------------------------------------------------------


def _record(claim: Claim, result: SendResult) -> None:
    """The attempt's outcome and the row's new state, in one commit of their own."""
    now = clock.now()
    with transaction.atomic():
        AlertDeliveryAttempt.objects.filter(pk=claim.attempt.pk).update(
            finished_at=now,
            outcome=result.outcome,
            http_status=result.http_status,
            error_code=result.error_code[:100],
            error_message=result.error_message,
            duration_ms=result.duration_ms,
        )
        if result.outcome == AlertAttemptOutcome.OK:
            _mark_sent(claim, now)
        else:
            _mark_failed(claim, result, now)


def _mark_sent(claim: Claim, now: datetime) -> None:
    AlertOutbox.objects.filter(pk=claim.row.pk, status=AlertStatus.PENDING).update(
        status=AlertStatus.SENT, sent_at=now, claimed_until=None, last_error=""
    )


def _mark_failed(claim: Claim, result: SendResult, now: datetime) -> None:
    attempts = claim.attempt.number
    logger.warning(
        "alert %s via %s, attempt %s: %s",
        claim.row.pk,
        claim.row.channel,
        attempts,
        result.error_code,
    )
    # Only while the claim is still ours: a worker that claimed it after our lease ran
    # out may be sending it now, and its claim must stand.
    AlertOutbox.objects.filter(
        pk=claim.row.pk, status=AlertStatus.PENDING, claimed_until=claim.until
    ).update(
        status=AlertStatus.FAILED if attempts >= MAX_ATTEMPTS else AlertStatus.PENDING,
        next_attempt_at=now + timedelta(seconds=30 * 2**attempts),
        claimed_until=None,
        last_error=result.error_message,
    )
