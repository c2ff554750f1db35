"""Probe tasks: the dispatch tick and the batches it sends. Arguments are ids and times."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.utils.dateparse import parse_datetime

from integrations.services.dispatch import health_rows_ensure, probes_claim, slots_batched
from integrations.services.probe_runs import probe_batch_run


@shared_task(acks_late=True)
def probe_dispatch_task() -> int:
    """Claim every due endpoint and send them out in batches."""
    health_rows_ensure()
    slots = probes_claim()
    for batch in slots_batched(slots, settings.PROBE_BATCH_SIZE):
        probe_batch_task.delay([[s.endpoint_id, s.due_at.isoformat()] for s in batch])
    return len(slots)


def _parse(slots: list[list[object]]) -> list[tuple[int, datetime]]:
    parsed = []
    for endpoint_id, due in slots:
        moment = parse_datetime(str(due))
        if moment is not None:
            parsed.append((int(str(endpoint_id)), moment))
    return parsed


@shared_task(acks_late=True, reject_on_worker_lost=True)
def probe_batch_task(slots: list[list[object]]) -> int:
    """Probe one batch of [endpoint id, due time] slots and record the results."""
    return probe_batch_run(slots=_parse(slots))
