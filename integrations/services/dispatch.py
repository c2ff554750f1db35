"""Claiming due probes: the dispatch tick's work, and the slots nobody probed.

Due endpoints are claimed in one transaction with SELECT ... FOR UPDATE SKIP LOCKED
(PostgreSQL), so several beats or dispatchers never claim the same endpoint; a claim
carries a lease (claimed_until) that the running batch extends (``claims_extend``) and
after which an unrecorded slot is claimed again.

Every due slot ends as one ProbeResult: a probe, or a ``missed`` record with its reason.
An endpoint found more than PROBE_MISSED_AFTER_INTERVALS intervals behind its schedule
is probed at its latest due slot; the older slots are recorded as missed, because
probing them now would say nothing about then:

- ``worker_lost``: the slot was claimed (or came due while an earlier slot was) and the
  claim's lease ran out with no result: the worker died, or its task was lost with the
  broker;
- ``broker_down``: no dispatch tick ran between the slot coming due and now (the broker,
  the beat or every worker was down);
- ``overdue``: ticks ran, but none claimed it in time (a backlog, the dispatch limit).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q

from integrations import clock
from integrations.choices import MissedReason
from integrations.models import DispatchTick, Endpoint, EndpointHealth
from integrations.services.health import gap_after, probe_interval
from integrations.services.probe_recording import MissedSlot, missed_slots_record

PROBED = Q(
    endpoint__probe_enabled=True,
    endpoint__environment__is_enabled=True,
    endpoint__environment__customer__is_active=True,
)


@dataclass(frozen=True)
class Slot:
    endpoint_id: int
    due_at: datetime


def health_rows_ensure() -> int:
    """Create the health row (due now) of every probed endpoint that has none."""
    missing = Endpoint.objects.filter(probe_enabled=True, health__isnull=True).values_list(
        "pk", "probe_interval_s"
    )
    now = clock.now()
    rows = [
        EndpointHealth(
            endpoint_id=pk,
            next_probe_at=now,
            monitoring_gap_at=now + 2 * timedelta(seconds=interval_s),
        )
        for pk, interval_s in missing
    ]
    EndpointHealth.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _tick(now: datetime) -> datetime | None:
    """Record this tick; the previous one's time (None on the very first)."""
    tick, created = DispatchTick.objects.select_for_update().get_or_create(
        pk=1, defaults={"at": now}
    )
    previous = None if created else tick.at
    if not created:
        DispatchTick.objects.filter(pk=1).update(at=now)
    return previous


def _pause_unprobed(now: datetime) -> None:
    """Endpoints not probed (disabled, or their environment or customer) stop their
    schedule, so the time they were off is not recorded as missed once they are back."""
    EndpointHealth.objects.filter(next_probe_at__lt=now).exclude(PROBED).update(
        next_probe_at=None, claimed_until=None, monitoring_gap_at=None
    )


def _due(now: datetime, limit: int) -> list[EndpointHealth]:
    rows = (
        EndpointHealth.objects.filter(PROBED)
        .filter(Q(next_probe_at__lte=now) | Q(next_probe_at__isnull=True))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .select_related("endpoint")
        .order_by(F("next_probe_at").asc(nulls_first=True))
    )
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    fields = ("pk", "state", "next_probe_at", "claimed_until", "monitoring_gap_at")
    intervals = ("endpoint__probe_interval_s", "endpoint__retry_interval_s")
    return list(rows.only(*fields, *intervals)[:limit])


def _reason(due_at: datetime, *, lost_claim: datetime | None, previous: datetime | None) -> str:
    if lost_claim is not None and due_at <= lost_claim:
        return MissedReason.WORKER_LOST
    if previous is not None and due_at > previous:
        return MissedReason.BROKER_DOWN
    return MissedReason.OVERDUE


def _catch_up(
    row: EndpointHealth, *, now: datetime, previous: datetime | None
) -> tuple[datetime, list[MissedSlot]]:
    """The slot to probe now, and the older due slots given up as missed."""
    first = row.next_probe_at or now
    interval = probe_interval(health=row, endpoint=row.endpoint)
    behind = int((now - first) / interval)
    skipped = max(0, behind - (settings.PROBE_MISSED_AFTER_INTERVALS - 1))
    if not skipped:
        return first, []
    lost_claim = row.claimed_until  # a due row's claim is one whose lease ran out
    # After a long outage only the latest slots get a row each; the earlier ones are
    # counted (rollups, and the message of the oldest row), not stored one by one.
    earlier = max(0, skipped - settings.PROBE_MISSED_MAX_ROWS)
    missed = [
        MissedSlot(
            endpoint_id=row.pk,
            due_at=due_at,
            reason=_reason(due_at, lost_claim=lost_claim, previous=previous),
        )
        for due_at in (first + interval * n for n in range(earlier, skipped))
    ]
    if earlier:
        missed[0] = replace(missed[0], earlier=earlier, earlier_from=first, interval=interval)
    return first + interval * skipped, missed


def probes_claim(*, limit: int | None = None) -> list[Slot]:
    """Claim every due endpoint (up to ``limit``); each comes back once per slot.

    Slots too far behind are recorded as missed in the same transaction, under the
    same row locks that a batch recording those endpoints takes.
    """
    now = clock.now()
    lease = now + timedelta(seconds=settings.PROBE_CLAIM_LEASE_S)
    with transaction.atomic():
        previous = _tick(now)
        _pause_unprobed(now)
        rows = _due(now, limit or settings.PROBE_DISPATCH_LIMIT)
        slots, missed, moved = [], [], []
        for row in rows:
            due_at, skipped = _catch_up(row, now=now, previous=previous)
            slots.append(Slot(row.pk, due_at))
            missed.extend(skipped)
            if row.next_probe_at is None:  # resumed: its schedule starts again now
                row.monitoring_gap_at = gap_after(health=row, endpoint=row.endpoint, at=now)
            if due_at != row.next_probe_at:
                row.next_probe_at = due_at
                moved.append(row)
        missed_slots_record(missed=missed, now=now)
        EndpointHealth.objects.bulk_update(
            moved, ["next_probe_at", "monitoring_gap_at"], batch_size=500
        )
        EndpointHealth.objects.filter(pk__in=[r.pk for r in rows]).update(claimed_until=lease)
    return slots


def _at_slots(slots: Sequence[tuple[int, datetime]]) -> Q:
    return functools.reduce(
        operator.or_, (Q(pk=endpoint_id, next_probe_at=due_at) for endpoint_id, due_at in slots)
    )


def claims_extend(*, slots: Sequence[tuple[int, datetime]]) -> int:
    """Renew the lease of slots a running batch still holds (its heartbeat).

    Only rows still at that slot: a slot given up meanwhile (recorded as missed, the
    row moved on) is not taken back; its late result is then skipped at recording.
    """
    if not slots:
        return 0
    lease = clock.now() + timedelta(seconds=settings.PROBE_CLAIM_LEASE_S)
    return EndpointHealth.objects.filter(_at_slots(slots), claimed_until__isnull=False).update(
        claimed_until=lease
    )


def claims_release(*, slots: Sequence[tuple[int, datetime]]) -> int:
    """Give back the claims of slots that were not recorded, so the next tick claims them.

    Only a row still at that slot is released: one whose result did land (a commit whose
    answer was lost) has moved on to its next slot, and its claim is already gone.
    """
    if not slots:
        return 0
    rows = EndpointHealth.objects.filter(_at_slots(slots), claimed_until__isnull=False)
    return rows.update(claimed_until=None)


def slots_batched(slots: list[Slot], size: int) -> list[list[Slot]]:
    return [slots[i : i + size] for i in range(0, len(slots), size)]
