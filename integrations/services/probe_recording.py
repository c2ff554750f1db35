"""Recording a batch of probe outcomes: results, rollups, health, transitions, alerts.

One transaction per batch. The endpoints' health rows are locked first (in id order,
so two batches never deadlock); a slot that already has a result (the batch is being
redone after a worker died) is skipped entirely, so nothing is counted twice. That also
makes a batch safe to record again when its connection dropped, even after a commit that
landed but whose answer was lost (services.probe_runs retries on a fresh connection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from integrations import clock
from integrations.choices import AlertChannel, MissedReason
from integrations.models import (
    AlertOutbox,
    Endpoint,
    EndpointHealth,
    HealthTransition,
    ProbeResult,
)
from integrations.services.bulk_sql import column_arrays, field_columns, unnest_source
from integrations.services.health import Transition, gap_after, health_apply, next_probe_at
from integrations.services.probes import ProbeOutcome
from integrations.services.rollups import hour_of, rollups_add

HOUR = timedelta(hours=1)

HEALTH_FIELDS = [
    "state",
    "state_since",
    "consecutive_failures",
    "consecutive_successes",
    "next_probe_at",
    "claimed_until",
    "last_probe_at",
    "last_success_at",
    "last_latency_ms",
    "last_error_class",
    "last_error_code",
    "last_error_message",
    "failing_step",
    "monitoring_gap_at",
]


@dataclass(frozen=True)
class MissedSlot:
    """A due slot that was never probed; ``earlier`` more before it, counted, not stored."""

    endpoint_id: int
    due_at: datetime
    reason: str
    earlier: int = 0
    earlier_from: datetime | None = None
    interval: timedelta | None = None

    def message(self, now: datetime) -> str:
        late = (now - self.due_at).total_seconds()
        text = {
            MissedReason.WORKER_LOST: "claimed, but no result within the claim's lease "
            "(the worker was lost, or its task with the broker)",
            MissedReason.BROKER_DOWN: "no dispatch tick ran after it came due "
            "(the broker, the beat or every worker was down)",
            MissedReason.OVERDUE: "dispatch ticks ran but none claimed it in time",
        }[MissedReason(self.reason)]
        text = f"not probed: {text}; given up {late:.0f} s after it was due"
        if self.earlier and self.earlier_from is not None:
            text += (
                f"; {self.earlier} earlier slots since {self.earlier_from:%Y-%m-%d %H:%M:%S} too"
            )
        return text[:500]

    def hours(self) -> dict[datetime, int]:
        """Missed slots per hour: this one and the ``earlier`` ones, counted an hour at a
        time (after a month's outage that is some 700 steps, not hundreds of thousands)."""
        counts = {hour_of(self.due_at): 1}
        if not (self.earlier and self.earlier_from is not None and self.interval is not None):
            return counts
        done = 0
        while done < self.earlier:
            hour = hour_of(self.earlier_from + self.interval * done)
            # The first slot at or after the next hour, or the end of the earlier ones.
            upto = min(self.earlier, math.ceil((hour + HOUR - self.earlier_from) / self.interval))
            counts[hour] = counts.get(hour, 0) + upto - done
            done = upto
        return counts


def missed_slots_record(*, missed: list[MissedSlot], now: datetime) -> int:
    """Store missed slots as results with a ``missed_reason``, and count them per hour.

    Callers hold the endpoints' health rows locked (the claim does), so no batch records
    these slots meanwhile; a slot that has a result already keeps it.
    """
    if not missed:
        return 0
    unrecorded = set(slots_unrecorded([(m.endpoint_id, m.due_at) for m in missed]))
    fresh = [m for m in missed if (m.endpoint_id, m.due_at) in unrecorded]
    rows = [
        ProbeResult(
            endpoint_id=m.endpoint_id,
            due_at=m.due_at,
            started_at=m.due_at,
            lag_ms=round((now - m.due_at).total_seconds() * 1000, 2),
            ok=False,
            message=m.message(now),
            missed_reason=m.reason,
        )
        for m in fresh
    ]
    ProbeResult.objects.bulk_create(rows)
    counts: dict[tuple[int, datetime], int] = {}
    for m in fresh:
        for hour, count in m.hours().items():
            counts[(m.endpoint_id, hour)] = counts.get((m.endpoint_id, hour), 0) + count
    rollups_add(results=[], missed=counts)
    return len(rows)


def _result_row(outcome: ProbeOutcome) -> ProbeResult:
    return ProbeResult(
        endpoint_id=outcome.endpoint_id,
        due_at=outcome.due_at,
        started_at=outcome.started_at,
        lag_ms=round(outcome.lag_ms, 2),
        ok=outcome.ok,
        status=outcome.status,
        latency_ms=outcome.latency_ms,
        error_class=outcome.error_class,
        error_code=outcome.error_code,
        message=outcome.message,
        failing_step=outcome.failing_step,
        steps=outcome.steps,
    )


def alert_channels() -> list[str]:
    channels: list[str] = []
    if settings.ALERT_WEBHOOK_URL:
        channels.append(AlertChannel.WEBHOOK)
    if settings.ALERT_EMAILS:
        channels.append(AlertChannel.EMAIL)
    return channels


def _store_transitions(transitions: list[Transition]) -> None:
    rows = HealthTransition.objects.bulk_create(
        [
            HealthTransition(
                endpoint_id=t.endpoint_id,
                at=t.at,
                from_state=t.from_state,
                to_state=t.to_state,
                reason=t.reason,
                failing_step=t.failing_step,
            )
            for t in transitions
        ]
    )
    now = clock.now()
    AlertOutbox.objects.bulk_create(
        [
            AlertOutbox(transition=row, channel=channel, next_attempt_at=now)
            for row in rows
            for channel in alert_channels()
        ]
    )


def slots_unrecorded(slots: list[tuple[int, datetime]]) -> list[tuple[int, datetime]]:
    """The (endpoint id, due time) slots with no result yet (a missed record counts)."""
    stored = set(
        ProbeResult.objects.filter(
            endpoint_id__in={pk for pk, _ in slots}, due_at__in={due for _, due in slots}
        ).values_list("endpoint_id", "due_at")
    )
    return [slot for slot in slots if slot not in stored]


def _fresh(outcomes: list[ProbeOutcome]) -> list[ProbeOutcome]:
    """The outcomes whose slot has no stored result yet (a missed record counts)."""
    fresh = set(slots_unrecorded([(o.endpoint_id, o.due_at) for o in outcomes]))
    return [o for o in outcomes if (o.endpoint_id, o.due_at) in fresh]


def _health_save(rows: list[EndpointHealth]) -> None:
    """Write the advanced health rows: one UPDATE ... FROM (VALUES ...) on PostgreSQL,
    one UPDATE per row (sent together) elsewhere; both far cheaper than bulk_update."""
    if not rows:
        return
    fields: list[Any] = [EndpointHealth._meta.get_field(name) for name in HEALTH_FIELDS]
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk]
        for row in rows
    ]
    table = EndpointHealth._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_unnest_update_sql(table, fields), column_arrays(params))
            return
        assignments = ", ".join(f"{f.column} = %s" for f in fields)
        # Identifiers come from the model's metadata; every value is a parameter.
        sql = f"UPDATE {table} SET {assignments} WHERE endpoint_id = %s"  # noqa: S608
        cursor.executemany(sql, params)


def _unnest_update_sql(table: str, fields: list[Any]) -> str:
    columns = [*field_columns(EndpointHealth, [f.name for f in fields]), ("endpoint_id", "bigint")]
    assignments = ", ".join(f"{f.column} = v.{f.column}" for f in fields)
    # Identifiers come from the model's metadata; every value is a parameter.
    return (
        f"UPDATE {table} AS h SET {assignments} FROM {unnest_source(columns)} "  # noqa: S608
        "WHERE h.endpoint_id = v.endpoint_id"
    )


@transaction.atomic
def probe_outcomes_record(*, outcomes: list[ProbeOutcome]) -> int:
    """Store a batch of outcomes; returns how many were new."""
    ids = sorted({o.endpoint_id for o in outcomes})
    healths = {
        h.pk: h
        for h in EndpointHealth.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    endpoints = Endpoint.objects.in_bulk(ids)
    fresh = [o for o in _fresh(outcomes) if o.endpoint_id in healths]
    results = ProbeResult.objects.bulk_create([_result_row(o) for o in fresh])
    rollups_add(results=results)
    transitions = []
    touched = {o.endpoint_id: healths[o.endpoint_id] for o in fresh}
    for outcome in sorted(fresh, key=lambda o: o.due_at):
        health, endpoint = healths[outcome.endpoint_id], endpoints[outcome.endpoint_id]
        transition = health_apply(health=health, endpoint=endpoint, outcome=outcome)
        if transition is not None:
            transitions.append(transition)
        health.next_probe_at = next_probe_at(
            health=health, endpoint=endpoint, due_at=outcome.due_at
        )
        health.monitoring_gap_at = gap_after(
            health=health, endpoint=endpoint, at=outcome.started_at
        )
        health.claimed_until = None
    # Only rows this batch advanced: a redone slot must not clear a newer claim.
    _health_save(list(touched.values()))
    _store_transitions(transitions)
    return len(fresh)
