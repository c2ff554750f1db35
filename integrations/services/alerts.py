"""Delivering health alerts from the outbox: a Slack-compatible webhook and e-mail.

Each pending row is delivered while its row lock is held (SELECT ... FOR UPDATE SKIP
LOCKED), and marked sent in the same transaction, so several workers and beats never
send one alert twice. A delivery that fails is retried with backoff, up to MAX_ATTEMPTS.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, transaction

from integrations import clock
from integrations.choices import AlertChannel, AlertStatus
from integrations.models import AlertOutbox, HealthTransition
from integrations.outbound import OutboundError, OutboundRequest, send

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


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


def _send_webhook(payload: dict[str, Any]) -> None:
    request = OutboundRequest(
        method="POST",
        url=settings.ALERT_WEBHOOK_URL,
        headers={"content-type": "application/json"},
        body=json.dumps(payload).encode(),
        deadline_s=10,
    )
    send(request)  # raises for any failure or a 4xx/5xx answer


def _send_email(payload: dict[str, Any]) -> None:
    info = payload["portal"]
    subject = f"[portal] {info['customer']}/{info['environment']}/{info['endpoint']}: {info['to']}"
    send_mail(subject, payload["text"], settings.DEFAULT_FROM_EMAIL, settings.ALERT_EMAILS)


def _deliver(row: AlertOutbox) -> None:
    payload = alert_payload(row.transition)
    try:
        _send_webhook(payload) if row.channel == AlertChannel.WEBHOOK else _send_email(payload)
    except (OutboundError, OSError) as error:
        row.attempts += 1
        row.last_error = getattr(error, "message", type(error).__name__)[:500]
        row.next_attempt_at = clock.now() + timedelta(seconds=30 * 2**row.attempts)
        row.status = AlertStatus.FAILED if row.attempts >= MAX_ATTEMPTS else AlertStatus.PENDING
        logger.warning("alert %s via %s failed: %s", row.pk, row.channel, row.last_error)
    else:
        row.attempts += 1
        row.status, row.sent_at = AlertStatus.SENT, clock.now()
    row.save(update_fields=["attempts", "last_error", "next_attempt_at", "status", "sent_at"])


def alerts_deliver(*, batch: int = 20) -> int:
    """Deliver every due alert; returns how many were sent."""
    sent = 0
    while True:
        with transaction.atomic():
            rows = (
                AlertOutbox.objects.filter(
                    status=AlertStatus.PENDING, next_attempt_at__lte=clock.now()
                )
                .select_related("transition__endpoint__environment__customer")
                .order_by("pk")
            )
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True, of=("self",))
            claimed = list(rows[:batch])
            for row in claimed:
                _deliver(row)
                sent += row.status == AlertStatus.SENT
        if len(claimed) < batch:
            return sent
