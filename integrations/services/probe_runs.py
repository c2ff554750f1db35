"""Running probes: a dispatched batch, or one endpoint now."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import DatabaseError, connection

from integrations import clock
from integrations.models import Endpoint, EndpointHealth, ProbeResult
from integrations.services.db_retry import (
    CONNECTION_ERRORS,
    connection_reset,
    db_error_name,
    db_retried,
)
from integrations.services.dispatch import claims_release
from integrations.services.probe_recording import probe_outcomes_record
from integrations.services.probes import endpoint_probe, endpoints_probe, probe_slots_load

logger = logging.getLogger(__name__)


def probe_batch_run(*, slots: list[tuple[int, datetime]]) -> int:
    """Probe a claimed batch concurrently and record it; returns how many results were new.

    A batch the database fails for longer than the retries gives its claims back and
    returns 0: its slots are probed again on the next tick, not after the lease.
    """
    try:
        return _batch_run(slots)
    except CONNECTION_ERRORS as error:
        if connection.in_atomic_block:
            raise  # the caller's transaction is broken: only the caller can start it again
        _batch_abandon(slots, error=error)
        return 0


def _batch_run(slots: list[tuple[int, datetime]]) -> int:
    loaded = db_retried(lambda: probe_slots_load(slots=slots), what="loading a probe batch")
    # Not retried: a database error here comes from preparing, before anything was sent.
    outcomes = endpoints_probe(slots=loaded)
    if not outcomes:
        return 0
    # A retry after a commit whose answer was lost stores nothing twice: recording skips
    # every slot that already has a result (one per slot, also a unique constraint).
    return db_retried(
        lambda: probe_outcomes_record(outcomes=outcomes), what="recording a probe batch"
    )


def _batch_abandon(slots: list[tuple[int, datetime]], *, error: BaseException) -> None:
    logger.error(
        "probe batch of %s slots not recorded (%s); releasing its claims for the next tick",
        len(slots),
        db_error_name(error),
    )
    connection_reset()
    try:
        claims_release(slots=slots)
    except DatabaseError as release_error:  # the lease still frees them, only later
        logger.error(
            "releasing the claims of an unrecorded probe batch failed too (%s)",
            db_error_name(release_error),
        )
        connection_reset()


def endpoint_probe_now(*, endpoint: Endpoint) -> ProbeResult:
    """Probe one endpoint out of schedule (the 'probe now' button) and record it."""
    EndpointHealth.objects.get_or_create(endpoint=endpoint, defaults={"next_probe_at": clock.now()})
    due_at = clock.now()
    [(loaded, _)] = probe_slots_load(slots=[(endpoint.pk, due_at)]) or [(endpoint, due_at)]
    outcome = endpoint_probe(endpoint=loaded, due_at=due_at)
    probe_outcomes_record(outcomes=[outcome])
    return ProbeResult.objects.get(endpoint=endpoint, due_at=due_at)
