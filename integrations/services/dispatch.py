"""Claiming due probes: the dispatch tick's work.

Due endpoints are claimed in one transaction with SELECT ... FOR UPDATE SKIP LOCKED
(PostgreSQL), so several beats or dispatchers never claim the same endpoint; a claim
carries a lease (claimed_until) after which an unrecorded slot is claimed again.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from integrations import clock
from integrations.models import Endpoint, EndpointHealth


@dataclass(frozen=True)
class Slot:
    endpoint_id: int
    due_at: datetime


def health_rows_ensure() -> int:
    """Create the health row (due now) of every probed endpoint that has none."""
    missing = Endpoint.objects.filter(probe_enabled=True, health__isnull=True).values_list(
        "pk", flat=True
    )
    now = clock.now()
    rows = [EndpointHealth(endpoint_id=pk, next_probe_at=now) for pk in missing]
    EndpointHealth.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _due(now: datetime, limit: int) -> list[EndpointHealth]:
    rows = (
        EndpointHealth.objects.filter(
            next_probe_at__lte=now,
            endpoint__probe_enabled=True,
            endpoint__environment__is_enabled=True,
            endpoint__environment__customer__is_active=True,
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_probe_at")
    )
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return list(rows.only("pk", "next_probe_at")[:limit])


def probes_claim(*, limit: int | None = None) -> list[Slot]:
    """Claim every due endpoint (up to ``limit``); each comes back once per slot."""
    now = clock.now()
    lease = now + timedelta(seconds=settings.PROBE_CLAIM_LEASE_S)
    with transaction.atomic():
        rows = _due(now, limit or settings.PROBE_DISPATCH_LIMIT)
        EndpointHealth.objects.filter(pk__in=[r.pk for r in rows]).update(claimed_until=lease)
    return [Slot(r.pk, r.next_probe_at) for r in rows if r.next_probe_at is not None]


def claims_release(*, slots: Sequence[tuple[int, datetime]]) -> int:
    """Give back the claims of slots that were not recorded, so the next tick claims them.

    Only a row still at that slot is released: one whose result did land (a commit whose
    answer was lost) has moved on to its next slot, and its claim is already gone.
    """
    if not slots:
        return 0
    at_slot = functools.reduce(
        operator.or_, (Q(pk=endpoint_id, next_probe_at=due_at) for endpoint_id, due_at in slots)
    )
    rows = EndpointHealth.objects.filter(at_slot, claimed_until__isnull=False)
    return rows.update(claimed_until=None)


def slots_batched(slots: list[Slot], size: int) -> list[list[Slot]]:
    return [slots[i : i + size] for i in range(0, len(slots), size)]
