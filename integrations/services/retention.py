"""Keeping storage bounded: pruning raw probe results, reconciling rollups."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction

from integrations import clock
from integrations.models import EndpointHealth, HourlyRollup, ProbeResult
from integrations.services.rollups import hour_of, rollup_from_raw


def probe_results_prune(*, chunk: int = 10000) -> int:
    """Delete raw results older than the retention period, in chunks; returns the count."""
    cutoff = clock.now() - timedelta(days=settings.PROBE_RESULT_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            ProbeResult.objects.filter(started_at__lt=cutoff).values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return deleted
        deleted += ProbeResult.objects.filter(pk__in=ids).delete()[0]


def rollups_reconcile(*, hours: int = 2) -> int:
    """Recompute the last closed hours' rollups from raw results; returns rows rewritten.

    Rollups are kept by increments as results land; this repairs any drift (a crash
    between two statements cannot cause one, but an operator's manual delete can).
    """
    current = hour_of(clock.now())
    rewritten = 0
    for back in range(1, hours + 1):
        hour = current - timedelta(hours=back)
        until = hour + timedelta(hours=1)
        endpoint_ids = (
            ProbeResult.objects.filter(started_at__gte=hour, started_at__lt=until)
            .values_list("endpoint_id", flat=True)
            .distinct()
        )
        for endpoint_id in endpoint_ids:
            with transaction.atomic():
                # The health row lock keeps a late batch of this endpoint from interleaving.
                EndpointHealth.objects.select_for_update().filter(pk=endpoint_id).first()
                values = rollup_from_raw(endpoint_id=endpoint_id, hour=hour, until=until)
                # Not from raw rows: after a long outage, missed slots are counted
                # without a row each (services.dispatch).
                values.pop("missed")
                HourlyRollup.objects.update_or_create(
                    endpoint_id=endpoint_id, hour=hour, defaults=values
                )
                rewritten += 1
    return rewritten
