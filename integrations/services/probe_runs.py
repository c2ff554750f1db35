"""Running probes: a dispatched batch, or one endpoint now."""

from __future__ import annotations

from datetime import datetime

from integrations import clock
from integrations.models import Endpoint, EndpointHealth, ProbeResult
from integrations.services.probe_recording import probe_outcomes_record
from integrations.services.probes import endpoint_probe, endpoints_probe, probe_slots_load


def probe_batch_run(*, slots: list[tuple[int, datetime]]) -> int:
    """Probe a claimed batch concurrently and record it; returns how many results were new."""
    outcomes = endpoints_probe(slots=probe_slots_load(slots=slots))
    if not outcomes:
        return 0
    return probe_outcomes_record(outcomes=outcomes)


def endpoint_probe_now(*, endpoint: Endpoint) -> ProbeResult:
    """Probe one endpoint out of schedule (the 'probe now' button) and record it."""
    EndpointHealth.objects.get_or_create(endpoint=endpoint, defaults={"next_probe_at": clock.now()})
    due_at = clock.now()
    [(loaded, _)] = probe_slots_load(slots=[(endpoint.pk, due_at)]) or [(endpoint, due_at)]
    outcome = endpoint_probe(endpoint=loaded, due_at=due_at)
    probe_outcomes_record(outcomes=[outcome])
    return ProbeResult.objects.get(endpoint=endpoint, due_at=due_at)
