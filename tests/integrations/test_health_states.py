"""The health state machine, driven by real probes of the sandbox: an endpoint that has never
succeeded stays unknown until its failure threshold makes it down (degraded means it worked,
then faltered); one that has worked turns degraded on its first failure."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.choices import HealthState
from integrations.models import Endpoint, EndpointHealth, HealthTransition
from integrations.services.probe_runs import endpoint_probe_now
from tests.helpers import moving_clock

pytestmark = pytest.mark.django_db


def probe_state(endpoint: Endpoint) -> str:
    endpoint_probe_now(endpoint=endpoint)
    return EndpointHealth.objects.get(pk=endpoint.pk).state


def test_a_never_working_endpoint_stays_unknown_until_it_is_down(
    demo_endpoint: Endpoint, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = moving_clock(monkeypatch)
    sandbox.set_faults(error_rate=1.0, error_status=503)
    states = []
    for _ in range(demo_endpoint.failure_threshold):
        states.append(probe_state(demo_endpoint))
        ahead(15)

    assert states == [HealthState.UNKNOWN] * (demo_endpoint.failure_threshold - 1) + [
        HealthState.DOWN
    ]
    moves = list(HealthTransition.objects.filter(endpoint=demo_endpoint).order_by("at"))
    assert [(t.from_state, t.to_state) for t in moves] == [(HealthState.UNKNOWN, HealthState.DOWN)]


def test_an_endpoint_that_worked_turns_degraded_on_its_first_failure(
    demo_endpoint: Endpoint, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = moving_clock(monkeypatch)
    assert probe_state(demo_endpoint) == HealthState.HEALTHY
    ahead(15)
    sandbox.set_faults(error_rate=1.0, error_status=503)

    assert probe_state(demo_endpoint) == HealthState.DEGRADED
