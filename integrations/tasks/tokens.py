"""Token tasks: the proactive refresh tick."""

from __future__ import annotations

from celery import shared_task

from integrations.services.refresh import tokens_refresh_due


@shared_task(acks_late=True)
def tokens_refresh_due_task() -> int:
    """Refresh every due token of the credentials that probed endpoints use."""
    return tokens_refresh_due().refreshed
