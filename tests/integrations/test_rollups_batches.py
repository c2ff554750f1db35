"""Rollups of probe batches that mix outcomes, as a real batch does (PostgreSQL arrays).

On PostgreSQL the rollup upsert sends each column as one typed array; a batch where
some endpoints answered (a latency) and others did not (refused: no latency) once
made those arrays mix 0 with floats, and the whole batch failed to record.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from integrations import clock
from integrations.models import EndpointHealth, HourlyRollup, ProbeResult
from integrations.services.dispatch import health_rows_ensure
from integrations.services.probe_recording import probe_outcomes_record
from integrations.services.probe_runs import probe_batch_run
from integrations.services.probes import ProbeOutcome
from integrations.services.rollups import hour_of
from tests.integrations.fault_world import closed_port, fault_endpoint, fault_environment
from tests.integrations.outbound_servers import ok_json, serving

pytestmark = pytest.mark.django_db


def test_one_batch_of_passing_refused_and_failing_endpoints_records_every_rollup(
    settings: Any,
) -> None:
    with serving(ok_json) as server, closed_port() as refused_port:
        settings.OUTBOUND_ALLOWLIST = [server.hostport, f"127.0.0.1:{refused_port}"]
        healthy_env = fault_environment(port=server.port, slug="uat")
        refused_env = fault_environment(port=refused_port, slug="prod")
        passing = [fault_endpoint(healthy_env, slug=f"ok-{n}") for n in range(3)]
        refused = [fault_endpoint(refused_env, slug=f"down-{n}") for n in range(2)]
        health_rows_ensure()
        now = clock.now()
        endpoints = [*passing, *refused]

        assert probe_batch_run(slots=[(e.pk, now) for e in endpoints]) == len(endpoints)

        assert len(server.requests) == len(passing)
    rollups = {r.endpoint_id: r for r in HourlyRollup.objects.filter(hour=hour_of(now))}
    assert sorted(rollups) == sorted(e.pk for e in endpoints)
    for endpoint in passing:
        rollup = rollups[endpoint.pk]
        assert (rollup.count, rollup.successes, rollup.latency_count) == (1, 1, 1)
        assert rollup.latency_sum_ms > 0 and rollup.latency_min_ms == rollup.latency_max_ms
    for endpoint in refused:
        rollup = rollups[endpoint.pk]
        assert (rollup.count, rollup.successes) == (1, 0)
        assert rollup.fail_connect == 1
    claimed = EndpointHealth.objects.filter(pk__in=[e.pk for e in endpoints])
    assert not claimed.exclude(claimed_until=None).exists()


def test_outcomes_with_whole_and_fractional_latencies_share_one_upsert(settings: Any) -> None:
    environment = fault_environment(port=9, slug="uat")
    endpoints = [fault_endpoint(environment, slug=f"e{n}") for n in range(4)]
    health_rows_ensure()
    due = hour_of(clock.now()) + timedelta(minutes=5)
    latencies: list[float | None] = [5, 12.5, None, 0]
    outcomes = [
        ProbeOutcome(
            endpoint_id=endpoint.pk,
            due_at=due,
            started_at=due,
            ok=latency is not None,
            status=200 if latency is not None else None,
            latency_ms=latency,
            error_class="" if latency is not None else "connect",
            error_code="" if latency is not None else "connection_refused",
        )
        for endpoint, latency in zip(endpoints, latencies, strict=True)
    ]

    assert probe_outcomes_record(outcomes=outcomes) == len(outcomes)

    assert ProbeResult.objects.filter(endpoint__in=endpoints).count() == len(outcomes)
    found = {
        r.endpoint_id: (r.count, r.latency_min_ms, r.latency_max_ms, r.latency_sum_ms)
        for r in HourlyRollup.objects.filter(endpoint__in=endpoints)
    }
    assert found == {
        endpoints[0].pk: (1, 5.0, 5.0, 5.0),
        endpoints[1].pk: (1, 12.5, 12.5, 12.5),
        endpoints[2].pk: (1, None, None, 0.0),
        endpoints[3].pk: (1, 0.0, 0.0, 0.0),
    }
