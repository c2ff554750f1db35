"""Readiness tasks: the scheduled readiness report of one environment."""

from __future__ import annotations

from celery import shared_task

from integrations.models import Environment
from integrations.services.readiness import readiness_run


@shared_task(acks_late=True)
def readiness_run_task(environment_id: int) -> None:
    """Run and store a readiness report; a deleted or disabled environment is skipped."""
    environment = Environment.objects.filter(pk=environment_id, is_enabled=True).first()
    if environment is None:
        return
    readiness_run(environment=environment, actor_label="schedule")


@shared_task(acks_late=True)
def readiness_run_due_task() -> int:
    """The daily tick: one report task per enabled environment of an active customer."""
    ids = list(
        Environment.objects.filter(is_enabled=True, customer__is_active=True).values_list(
            "pk", flat=True
        )
    )
    for environment_id in ids:
        readiness_run_task.delay(environment_id)
    return len(ids)
