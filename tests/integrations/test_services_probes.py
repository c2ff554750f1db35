"""Probes, health state, rollups and alerts, in process against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail

from integrations import clock
from integrations.choices import HealthState
from integrations.models import (
    AccessToken,
    AlertOutbox,
    Endpoint,
    EndpointHealth,
    HealthTransition,
    HourlyRollup,
    ProbeResult,
)
from integrations.models.health import BUCKET_FIELDS, FAILURE_FIELDS
from integrations.services.alerts import alerts_deliver
from integrations.services.dispatch import health_rows_ensure, probes_claim
from integrations.services.probe_runs import endpoint_probe_now, probe_batch_run
from integrations.services.refresh import tokens_refresh_due
from integrations.services.retention import probe_results_prune
from integrations.services.rollups import hour_of, rollup_from_raw
from tests.integrations.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings: Any, sandbox: Any) -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    settings.ALERT_WEBHOOK_URL = hook.url
    settings.OUTBOUND_ALLOWLIST = [*settings.OUTBOUND_ALLOWLIST, hook.hostport]
    yield hook
    hook.stop()


def probe_slot(endpoint: Endpoint, seconds: int) -> int:
    """Probe the endpoint in the slot ``seconds`` from a fixed start."""
    due = hour_of(clock.now()) + timedelta(seconds=seconds)
    return probe_batch_run(slots=[(endpoint.pk, due)])


def states(endpoint: Endpoint) -> list[str]:
    return list(
        HealthTransition.objects.filter(endpoint=endpoint)
        .order_by("at", "id")
        .values_list("to_state", flat=True)
    )


def test_a_probe_runs_the_whole_auth_chain_and_records_each_step(
    demo_endpoint: Endpoint,
) -> None:
    health_rows_ensure()
    result = endpoint_probe_now(endpoint=demo_endpoint)
    assert result.ok and result.status == 200 and result.latency_ms is not None
    assert [s["name"] for s in result.steps] == ["oauth_token", "customer_auth"]
    health = EndpointHealth.objects.get(pk=demo_endpoint.pk)
    assert health.state == HealthState.HEALTHY and health.next_probe_at > result.started_at


def test_faults_drive_healthy_degraded_down_healthy_with_one_alert_each(
    demo_endpoint: Endpoint, sandbox: Any, receiver: WebhookReceiver
) -> None:
    health_rows_ensure()
    probe_slot(demo_endpoint, 0)  # unknown -> healthy
    sandbox.set_faults(error_rate=1.0, error_status=503)
    for n in range(1, 4):  # three failures: degraded, then down at the threshold
        probe_slot(demo_endpoint, n * 10)
    sandbox.set_faults(error_rate=0.0)
    probe_slot(demo_endpoint, 40)  # one success is not enough to recover
    assert EndpointHealth.objects.get(pk=demo_endpoint.pk).state == HealthState.DOWN
    probe_slot(demo_endpoint, 50)
    assert states(demo_endpoint) == ["healthy", "degraded", "down", "healthy"]
    assert alerts_deliver() == 4
    assert alerts_deliver() == 0  # nothing is sent twice
    sent = [(a["portal"]["from"], a["portal"]["to"]) for a in receiver.received]
    assert sent == [
        ("unknown", "healthy"),
        ("healthy", "degraded"),
        ("degraded", "down"),
        ("down", "healthy"),
    ]
    assert "demo-client-secret" not in str(receiver.received)


def test_an_auth_failure_marks_the_endpoint_blocked_by_auth_naming_the_step(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    health_rows_ensure()
    sandbox.set_faults(reject=["user"])
    for n in range(3):
        probe_slot(demo_endpoint, n * 10)
    health = EndpointHealth.objects.get(pk=demo_endpoint.pk)
    assert health.state == HealthState.BLOCKED_BY_AUTH
    assert health.failing_step == "customer_auth" and health.last_error_class == "auth"
    assert HourlyRollup.objects.get(endpoint=demo_endpoint).fail_auth == 3


def test_assertions_fail_a_probe_that_answered_200(demo_endpoint: Endpoint) -> None:
    demo_endpoint.assertions = [
        {"type": "json_exists", "path": "customer_id"},
        {"type": "json_equals", "path": "plan", "value": "no-such-plan"},
    ]
    demo_endpoint.save()
    health_rows_ensure()
    result = endpoint_probe_now(endpoint=demo_endpoint)
    assert result.status == 200 and not result.ok
    assert result.error_class == "assertion" and "plan" in result.message


def test_a_redone_batch_writes_no_duplicate_results_and_counts_nothing_twice(
    demo_endpoint: Endpoint,
) -> None:
    health_rows_ensure()
    due = hour_of(clock.now())
    assert probe_batch_run(slots=[(demo_endpoint.pk, due)]) == 1
    assert probe_batch_run(slots=[(demo_endpoint.pk, due)]) == 0
    assert ProbeResult.objects.filter(endpoint=demo_endpoint).count() == 1
    assert HourlyRollup.objects.get(endpoint=demo_endpoint).count == 1


def test_rollups_equal_the_raw_results_they_summarise(
    demo_endpoint: Endpoint, sandbox: Any, settings: Any
) -> None:
    settings.TOKEN_FAILURE_COOLDOWN_S = 0  # each slot stands for a tick after any cool-down
    health_rows_ensure()
    plan = [
        {},
        {"error_rate": 1.0, "error_status": 503},
        {"error_rate": 1.0, "error_status": 404},
        {"reject": ["client"]},
        {"malformed_json": True},
        {},
        {"latency_ms": 30},
    ]
    for n, faults in enumerate(plan * 2):
        sandbox.reset()
        sandbox.set_faults(**faults)
        probe_slot(demo_endpoint, n)
    hour = hour_of(clock.now())
    rollup = HourlyRollup.objects.get(endpoint=demo_endpoint, hour=hour)
    raw = rollup_from_raw(endpoint_id=demo_endpoint.pk, hour=hour, until=hour + timedelta(hours=1))
    for name in ["count", "successes", "latency_count", *FAILURE_FIELDS.values(), *BUCKET_FIELDS]:
        assert getattr(rollup, name) == raw[name], name
    assert rollup.latency_sum_ms == pytest.approx(raw["latency_sum_ms"])
    assert rollup.latency_min_ms == pytest.approx(raw["latency_min_ms"])
    assert rollup.count == 14 and rollup.fail_http_5xx == 2 and rollup.fail_http_4xx == 2
    assert rollup.fail_auth == 2 and rollup.successes == 6
    assert sum(getattr(rollup, f) for f in BUCKET_FIELDS) == rollup.latency_count


def test_a_claimed_endpoint_is_not_claimed_again_until_its_lease_ends(
    demo_endpoint: Endpoint, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    health_rows_ensure()
    first = probes_claim()
    assert [s.endpoint_id for s in first] == [demo_endpoint.pk]
    assert probes_claim() == []
    later = clock.now() + timedelta(seconds=settings.PROBE_CLAIM_LEASE_S + 1)
    monkeypatch.setattr(clock, "now", lambda: later)
    again = probes_claim()
    assert [(s.endpoint_id, s.due_at) for s in again] == [(s.endpoint_id, s.due_at) for s in first]


def test_email_alerts_are_sent_once(demo_endpoint: Endpoint, settings: Any) -> None:
    settings.ALERT_EMAILS = ["oncall@example.com"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    health_rows_ensure()
    probe_slot(demo_endpoint, 0)
    assert AlertOutbox.objects.count() == 1
    assert alerts_deliver() == 1 and alerts_deliver() == 0
    assert len(mail.outbox) == 1 and "healthy" in mail.outbox[0].subject


def test_a_failing_webhook_is_retried_later_not_lost(
    demo_endpoint: Endpoint, receiver: WebhookReceiver
) -> None:
    receiver.status = 500
    health_rows_ensure()
    probe_slot(demo_endpoint, 0)
    assert alerts_deliver() == 0
    row = AlertOutbox.objects.get()
    assert row.status == "pending" and row.attempts == 1 and "500" in row.last_error
    assert row.next_attempt_at > clock.now()


def test_due_tokens_of_probed_endpoints_are_refreshed_before_expiry(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    health_rows_ensure()
    endpoint_probe_now(endpoint=demo_endpoint)
    AccessToken.objects.filter(pk=demo_endpoint.oauth_client_id).update(
        next_refresh_at=clock.now() - timedelta(seconds=1)
    )
    before = AccessToken.objects.get(pk=demo_endpoint.oauth_client_id)
    report = tokens_refresh_due()
    after = AccessToken.objects.get(pk=demo_endpoint.oauth_client_id)
    assert report.refreshed == 1 and sandbox.stats()["token_requests"] == 2
    assert after.token.reveal() != before.token.reveal()
    assert after.expires_at > before.expires_at and after.next_refresh_at < after.expires_at


def test_a_failing_refresh_backs_off_and_a_recovery_clears_it(
    demo_endpoint: Endpoint, sandbox: Any, settings: Any
) -> None:
    settings.TOKEN_FAILURE_COOLDOWN_S = 0  # each refresh stands for a tick after the cool-down
    health_rows_ensure()
    endpoint_probe_now(endpoint=demo_endpoint)
    sandbox.set_faults(reject=["client"])
    waits = []
    for _ in range(3):
        AccessToken.objects.filter(pk=demo_endpoint.oauth_client_id).update(
            next_refresh_at=clock.now() - timedelta(seconds=1)
        )
        assert tokens_refresh_due().failed == 1
        row = AccessToken.objects.get(pk=demo_endpoint.oauth_client_id)
        waits.append((row.next_refresh_at - clock.now()).total_seconds())
    assert row.consecutive_failures == 3 and row.last_error_code == "invalid_client"
    assert waits[0] < waits[1] < waits[2]
    sandbox.set_faults(reject=[])
    AccessToken.objects.filter(pk=row.pk).update(next_refresh_at=clock.now())
    assert tokens_refresh_due().refreshed == 1
    row.refresh_from_db()
    assert row.consecutive_failures == 0 and row.last_outcome == "ok"


def test_old_raw_results_are_pruned(demo_endpoint: Endpoint, settings: Any) -> None:
    health_rows_ensure()
    probe_slot(demo_endpoint, 0)
    ProbeResult.objects.update(started_at=clock.now() - timedelta(days=15))
    probe_slot(demo_endpoint, 10)
    assert probe_results_prune() == 1
    assert ProbeResult.objects.count() == 1
