"""Running probes: a dispatched batch, or one endpoint now."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, connection

from integrations import clock
from integrations.models import Endpoint, EndpointHealth, ProbeResult
from integrations.services.db_retry import (
    CONNECTION_ERRORS,
    connection_reset,
    db_error_name,
    db_retried,
)
from integrations.services.dispatch import claims_extend, claims_release
from integrations.services.probe_recording import probe_outcomes_record, slots_unrecorded
from integrations.services.probes import endpoint_probe, endpoints_probe, probe_slots_load

logger = logging.getLogger(__name__)


def probe_batch_run(*, slots: list[tuple[int, datetime]]) -> int:
    """Probe a claimed batch concurrently and record it; returns how many results were new.

    A batch the database fails for longer than the retries gives its claims back and
    returns 0: its slots are probed again on the next tick, not after the lease.
    """
    try:
        with claims_heartbeat(slots):
            return _batch_run(slots)
    except CONNECTION_ERRORS as error:
        if connection.in_atomic_block:
            raise  # the caller's transaction is broken: only the caller can start it again
        _batch_abandon(slots, error=error)
        return 0


@contextmanager
def claims_heartbeat(slots: list[tuple[int, datetime]]) -> Iterator[None]:
    """Hold the batch's claims while it runs: renewed now (the task may have waited in
    the queue) and every third of the lease from a thread, until the block ends.

    Inside a transaction (tests, a caller's atomic block) the claims are the caller's
    business: another connection would not see its rows.
    """
    if connection.in_atomic_block or not slots:
        yield
        return
    _claims_renew(slots)
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(slots, stop), name="probe-claims-heartbeat", daemon=True
    )
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()


def _heartbeat(slots: list[tuple[int, datetime]], stop: threading.Event) -> None:
    try:
        while not stop.wait(settings.PROBE_CLAIM_LEASE_S / 3):
            _claims_renew(slots)
    finally:
        connection.close()  # this thread's own connection


def _claims_renew(slots: list[tuple[int, datetime]]) -> None:
    try:
        claims_extend(slots=slots)
    except DatabaseError as error:  # the lease still holds a while; the next beat retries
        logger.warning("renewing a probe batch's claims failed (%s)", db_error_name(error))
        connection_reset()


def _batch_run(slots: list[tuple[int, datetime]]) -> int:
    # A batch that ran late (its worker was slow to take it, its lease ran out) does not
    # call a customer for slots given up meanwhile.
    loaded = db_retried(
        lambda: probe_slots_load(slots=slots_unrecorded(slots)), what="loading a probe batch"
    )
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
