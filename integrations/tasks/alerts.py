"""Alert tasks: deliver the outbox."""

from __future__ import annotations

from celery import shared_task

from integrations.services.alerts import alerts_deliver


@shared_task(acks_late=True)
def alerts_deliver_task() -> int:
    return alerts_deliver()
