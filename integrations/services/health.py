"""The health state machine of an endpoint.

unknown → healthy on the first success; healthy → degraded on a failure; → down (or
blocked_by_auth, when the failing step is authentication) after ``failure_threshold``
failures in a row; back to healthy after ``success_threshold`` successes in a row.
An endpoint that has never succeeded stays unknown until it is down: degraded counts
as up (it worked, then faltered), which a never-working endpoint never was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from integrations.choices import ErrorClass, HealthState
from integrations.models import Endpoint, EndpointHealth
from integrations.services.probes import ProbeOutcome

UNHEALTHY = {HealthState.DEGRADED, HealthState.DOWN, HealthState.BLOCKED_BY_AUTH}


@dataclass(frozen=True)
class Transition:
    endpoint_id: int
    at: datetime
    from_state: str
    to_state: str
    reason: str
    failing_step: str


def _next_state(health: EndpointHealth, endpoint: Endpoint, outcome: ProbeOutcome) -> str:
    state = health.state
    if outcome.ok:
        if state == HealthState.UNKNOWN:
            return HealthState.HEALTHY
        if state in UNHEALTHY and health.consecutive_successes >= endpoint.success_threshold:
            return HealthState.HEALTHY
        return state
    if health.consecutive_failures >= endpoint.failure_threshold:
        is_auth = outcome.error_class == ErrorClass.AUTH
        return HealthState.BLOCKED_BY_AUTH if is_auth else HealthState.DOWN
    if state == HealthState.HEALTHY:
        return HealthState.DEGRADED
    return state


def _reason(outcome: ProbeOutcome) -> str:
    if outcome.ok:
        return f"probe succeeded ({outcome.status}, {outcome.latency_ms or 0:.0f} ms)"
    step = f" at {outcome.failing_step}" if outcome.failing_step else ""
    return f"{outcome.error_code or 'failed'}{step}: {outcome.message}"[:500]


def health_apply(
    *, health: EndpointHealth, endpoint: Endpoint, outcome: ProbeOutcome
) -> Transition | None:
    """Fold one probe outcome into the endpoint's health; the transition, if any."""
    if outcome.ok:
        health.consecutive_successes += 1
        health.consecutive_failures = 0
        health.last_success_at = outcome.started_at
        health.last_error_class = health.last_error_code = health.failing_step = ""
        health.last_error_message = ""
    else:
        health.consecutive_failures += 1
        health.consecutive_successes = 0
        health.last_error_class = outcome.error_class
        health.last_error_code = outcome.error_code
        health.last_error_message = outcome.message
        health.failing_step = outcome.failing_step
    health.last_probe_at = outcome.started_at
    health.last_latency_ms = outcome.latency_ms
    new_state = _next_state(health, endpoint, outcome)
    if new_state == health.state:
        return None
    transition = Transition(
        endpoint.pk,
        outcome.started_at,
        health.state,
        new_state,
        _reason(outcome),
        outcome.failing_step,
    )
    health.state, health.state_since = new_state, outcome.started_at
    return transition


def probe_interval(*, health: EndpointHealth, endpoint: Endpoint) -> timedelta:
    """The schedule's step: the retry interval while unhealthy, else the probe interval."""
    seconds = endpoint.retry_interval_s if health.state in UNHEALTHY else endpoint.probe_interval_s
    return timedelta(seconds=seconds)


def next_probe_at(*, health: EndpointHealth, endpoint: Endpoint, due_at: datetime) -> datetime:
    """The next slot: one interval after this one.

    Never skips: a slot already past when this one is recorded is claimed by the next
    tick, or recorded as missed there if it is too late (services.dispatch).
    """
    return due_at + probe_interval(health=health, endpoint=endpoint)


def gap_after(*, health: EndpointHealth, endpoint: Endpoint, at: datetime) -> datetime:
    """When an endpoint probed (or scheduled) at ``at`` is in a monitoring gap: two
    intervals later with no new probe."""
    return at + 2 * probe_interval(health=health, endpoint=endpoint)
