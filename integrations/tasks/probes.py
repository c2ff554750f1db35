"""Probe tasks: the dispatch tick and the batches it sends. Arguments are ids and times."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils.dateparse import parse_datetime

from integrations.services.dispatch import (
    Slot,
    claims_release,
    health_rows_ensure,
    probes_claim,
    slots_batched,
)
from integrations.services.probe_runs import probe_batch_run

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def probe_dispatch_task() -> int:
    """Claim every due endpoint and send them out in batches."""
    health_rows_ensure()
    slots = probes_claim()
    probe_batches_send(slots)
    return len(slots)


def probe_batches_send(slots: Sequence[Slot], *, connection: Any = None) -> int:
    """Queue the claimed slots as batch tasks: [endpoint id, due time] pairs, nothing else.

    When the broker refuses a batch (down, or gone mid-tick), the claims of every batch
    not queued are given back, so the next tick claims those slots again at once
    instead of after the lease. Returns how many slots were queued.
    """
    batches = slots_batched(list(slots), settings.PROBE_BATCH_SIZE)
    for index, batch in enumerate(batches):
        try:
            probe_batch_task.apply_async(
                args=[[[s.endpoint_id, s.due_at.isoformat()] for s in batch]],
                connection=connection,
            )
        except Exception as error:  # kombu's and redis' errors alike: the broker failed
            unsent = [(s.endpoint_id, s.due_at) for b in batches[index:] for s in b]
            logger.error(
                "queueing a probe batch failed (%s); releasing the claims of %s slots",
                type(error).__name__,
                len(unsent),
            )
            claims_release(slots=unsent)
            return sum(len(b) for b in batches[:index])
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
