"""Alert delivery in process: claims and leases, idempotency keys, one attempt row per send."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail

from integrations import clock
from integrations.choices import AlertAttemptOutcome, AlertChannel, AlertStatus, HealthState
from integrations.models import AlertDeliveryAttempt, AlertOutbox, Endpoint, HealthTransition
from integrations.services.alerts import alert_claim_next, alert_send, alerts_deliver
from tests.helpers import find_leaks, stored_texts
from tests.integrations.alert_receiver import AlertReceiver

pytestmark = pytest.mark.django_db


def outbox_rows(
    endpoint: Endpoint, count: int, channel: str = AlertChannel.WEBHOOK
) -> list[AlertOutbox]:
    """``count`` down transitions of ``endpoint``, each with a due alert on ``channel``."""
    now = clock.now()
    transitions = HealthTransition.objects.bulk_create(
        HealthTransition(
            endpoint=endpoint,
            at=now,
            from_state=HealthState.HEALTHY,
            to_state=HealthState.DOWN,
            reason=f"probe {n} failed",
        )
        for n in range(count)
    )
    return AlertOutbox.objects.bulk_create(
        AlertOutbox(transition=t, channel=channel, next_attempt_at=now) for t in transitions
    )


def hook_at(settings: Any, url: str, hostport: str) -> None:
    settings.ALERT_WEBHOOK_URL = url
    settings.OUTBOUND_ALLOWLIST = [*settings.OUTBOUND_ALLOWLIST, hostport]


@pytest.fixture
def receiver(settings: Any, sandbox: Any) -> Iterator[AlertReceiver]:
    hook = AlertReceiver()
    hook_at(settings, hook.url, hook.hostport)
    yield hook
    hook.stop()


def free_port() -> int:
    """A port nothing listens on: bound once to get it, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def only_attempt(row: AlertOutbox) -> AlertDeliveryAttempt:
    attempts = list(AlertDeliveryAttempt.objects.filter(outbox=row))
    assert len(attempts) == 1, attempts
    return attempts[0]


def test_a_delivered_alert_records_one_ok_attempt_and_is_marked_sent(
    demo_endpoint: Endpoint, receiver: AlertReceiver
) -> None:
    [row] = outbox_rows(demo_endpoint, 1)
    assert alerts_deliver() == 1 and alerts_deliver() == 0
    attempt = only_attempt(row)
    assert attempt.outcome == AlertAttemptOutcome.OK and attempt.http_status == 200
    assert attempt.number == 1 and attempt.finished_at and attempt.duration_ms is not None
    row.refresh_from_db()
    assert row.status == AlertStatus.SENT and row.attempts == 1 and row.claimed_until is None


def test_an_http_500_records_a_failed_attempt_and_the_alert_waits_for_its_retry(
    demo_endpoint: Endpoint, receiver: AlertReceiver
) -> None:
    receiver.status = 500
    [row] = outbox_rows(demo_endpoint, 1)
    assert alerts_deliver() == 0
    attempt = only_attempt(row)
    assert attempt.outcome == AlertAttemptOutcome.FAILED and attempt.http_status == 500
    assert attempt.error_code == "upstream_http_error" and "500" in attempt.error_message
    row.refresh_from_db()
    assert row.status == AlertStatus.PENDING and row.claimed_until is None
    assert row.next_attempt_at > clock.now()


def test_a_receiver_slower_than_the_send_timeout_records_a_timed_out_attempt(
    demo_endpoint: Endpoint, settings: Any, receiver: AlertReceiver
) -> None:
    settings.ALERT_SEND_TIMEOUT_S = 1
    receiver.delay_s = 5
    [row] = outbox_rows(demo_endpoint, 1)
    assert alerts_deliver() == 0
    attempt = only_attempt(row)
    assert attempt.outcome == AlertAttemptOutcome.TIMEOUT and attempt.http_status is None
    assert attempt.error_code == "upstream_timeout"
    assert attempt.duration_ms is not None and attempt.duration_ms < 5000


def test_a_refused_connection_records_a_failed_attempt_without_the_webhook_secret(
    demo_endpoint: Endpoint, settings: Any
) -> None:
    port = free_port()
    secret = "canary-webhook-path-secret-4242"
    hook_at(settings, f"http://127.0.0.1:{port}/services/{secret}", f"127.0.0.1:{port}")
    [row] = outbox_rows(demo_endpoint, 1)
    assert alerts_deliver() == 0
    attempt = only_attempt(row)
    assert attempt.outcome == AlertAttemptOutcome.FAILED and attempt.http_status is None
    assert attempt.error_code == "connect_failure" and "refused" in attempt.error_message
    assert find_leaks((text for _, _, text in stored_texts()), [secret]) == []


def test_webhooks_carry_the_transition_id_as_idempotency_key_in_header_and_body(
    demo_endpoint: Endpoint, receiver: AlertReceiver
) -> None:
    rows = outbox_rows(demo_endpoint, 3)
    assert alerts_deliver() == 3
    keys = {(d.header_key, d.body_key) for d in receiver.snapshot()}
    assert keys == {(str(r.transition_id), str(r.transition_id)) for r in rows}


def test_email_alerts_carry_a_message_id_and_idempotency_key_stable_across_resends(
    demo_endpoint: Endpoint, settings: Any
) -> None:
    settings.ALERT_EMAILS = ["oncall@example.com"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    [row] = outbox_rows(demo_endpoint, 1, channel=AlertChannel.EMAIL)
    assert alerts_deliver() == 1
    AlertOutbox.objects.filter(pk=row.pk).update(status=AlertStatus.PENDING)  # sent again
    assert alerts_deliver() == 1
    headers = [
        (m.extra_headers["Message-ID"], m.extra_headers["Idempotency-Key"]) for m in mail.outbox
    ]
    key = str(row.transition_id)
    assert headers == [(f"<portal-alert-{key}@localhost>", key)] * 2
    assert [a.outcome for a in AlertDeliveryAttempt.objects.filter(outbox=row)] == ["ok", "ok"]


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    moment = clock.now() + timedelta(seconds=seconds)
    monkeypatch.setattr(clock, "now", lambda: moment)


def test_a_claimed_alert_is_not_claimed_again_until_its_lease_ends(
    demo_endpoint: Endpoint, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    [row] = outbox_rows(demo_endpoint, 1)
    first = alert_claim_next()
    assert first is not None and first.attempt.outcome == AlertAttemptOutcome.IN_FLIGHT
    assert alert_claim_next() is None
    later(monkeypatch, settings.ALERT_SEND_TIMEOUT_S + 1)  # a send may still be in flight
    assert alert_claim_next() is None
    later(monkeypatch, settings.ALERT_CLAIM_LEASE_S + 1)  # its worker must have died
    second = alert_claim_next()
    assert second is not None and second.row.pk == row.pk and second.attempt.number == 2
    outcomes = AlertDeliveryAttempt.objects.filter(outbox=row).values_list("outcome", flat=True)
    assert list(outcomes) == [AlertAttemptOutcome.LOST, AlertAttemptOutcome.IN_FLIGHT]


def test_a_send_that_outlived_its_lease_leaves_the_newer_claim_standing(
    demo_endpoint: Endpoint,
    settings: Any,
    receiver: AlertReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver.status = 500
    outbox_rows(demo_endpoint, 1)
    stale = alert_claim_next()
    later(monkeypatch, settings.ALERT_CLAIM_LEASE_S + 1)
    fresh = alert_claim_next()
    assert stale is not None and fresh is not None
    assert alert_send(claim=stale).outcome == AlertAttemptOutcome.FAILED
    row = AlertOutbox.objects.get()
    assert row.claimed_until == fresh.until and row.status == AlertStatus.PENDING
