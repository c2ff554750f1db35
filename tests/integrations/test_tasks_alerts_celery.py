"""Alert delivery by real Celery worker and beat processes on Redis and PostgreSQL, with a
worker killed mid-send and a receiver slower than the send timeout."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest
import redis

from integrations.choices import AlertStatus
from integrations.models import AlertDeliveryAttempt, AlertOutbox, Endpoint
from tests.helpers import wait_until
from tests.integrations import celery_processes as procs
from tests.integrations.alert_receiver import AlertReceiver
from tests.integrations.test_services_alerts import outbox_rows

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def quiet_endpoint(demo_endpoint: Endpoint) -> Endpoint:
    """The demo endpoint, never probed: the only alerts are the ones a test writes."""
    Endpoint.objects.filter(pk=demo_endpoint.pk).update(probe_enabled=False)
    return demo_endpoint


def alert_env(hook: AlertReceiver, *, timeout_s: int, lease_s: int) -> dict[str, str]:
    return procs.child_env(
        PORTAL_OUTBOUND_ALLOWLIST=hook.hostport,
        PORTAL_ALERT_WEBHOOK_URL=hook.url,
        PORTAL_ALERT_SEND_TIMEOUT_S=str(timeout_s),
        PORTAL_ALERT_CLAIM_LEASE_S=str(lease_s),
    )


def outcomes_per_row() -> dict[int, list[str]]:
    outcomes: dict[int, list[str]] = {}
    for outbox_id, outcome in AlertDeliveryAttempt.objects.order_by("outbox", "number").values_list(
        "outbox", "outcome"
    ):
        outcomes.setdefault(outbox_id, []).append(outcome)
    return outcomes


def test_a_worker_killed_mid_send_leaves_every_acknowledged_alert_delivered_once(
    quiet_endpoint: Endpoint, broker: redis.Redis, fleet: procs.Fleet, tmp_path: Path
) -> None:
    hook = AlertReceiver(hold_nth=6)  # the sixth send hangs until the worker is dead
    try:
        rows = outbox_rows(quiet_endpoint, 15)
        env = alert_env(hook, timeout_s=5, lease_s=8)
        doomed = fleet.worker(env, tmp_path / "doomed.log", "doomed", concurrency=1)
        with procs.running(fleet.beat(env, tmp_path / "beat.log", tmp_path)):
            wait_until(hook.held.is_set, what="the sixth alert in flight")
            # Each earlier alert was marked sent in its own commit once acknowledged.
            assert AlertOutbox.objects.filter(status=AlertStatus.SENT).count() == 5
            procs.stop(doomed, signal.SIGKILL)
            hook.release()
            with procs.running(fleet.worker(env, tmp_path / "rescue.log", "rescue")):
                wait_until(
                    lambda: AlertOutbox.objects.filter(status=AlertStatus.SENT).count() == 15,
                    what="every alert sent, the killed one after its lease",
                )
        deliveries = hook.snapshot()
    finally:
        hook.stop()
    transitions = {r.transition_id for r in rows}
    assert hook.acknowledged_per_transition() == Counter(dict.fromkeys(transitions, 1))
    held, *rest = [d for d in deliveries if d.transition_id == deliveries[5].transition_id]
    assert not held.acknowledged and len(rest) == 1 and rest[0].acknowledged
    assert held.header_key == rest[0].header_key == str(held.transition_id)
    assert all(d.header_key == d.body_key == str(d.transition_id) for d in deliveries)
    expected = {r.pk: ["ok"] for r in rows}
    expected[next(r.pk for r in rows if r.transition_id == held.transition_id)] = ["lost", "ok"]
    assert outcomes_per_row() == expected


def test_two_workers_never_send_one_alert_twice_while_a_slow_send_is_in_flight(
    quiet_endpoint: Endpoint, broker: redis.Redis, fleet: procs.Fleet, tmp_path: Path
) -> None:
    hook = AlertReceiver(delay_s=4)  # slower than the send timeout
    try:
        rows = outbox_rows(quiet_endpoint, 6)
        env = alert_env(hook, timeout_s=1, lease_s=3)
        with procs.running(
            fleet.worker(env, tmp_path / "w1.log", "w1"),
            fleet.worker(env, tmp_path / "w2.log", "w2"),
            fleet.beat(env, tmp_path / "beat.log", tmp_path),
        ):
            wait_until(
                lambda: outcomes_per_row() == {r.pk: ["timeout"] for r in rows},
                what="one timed-out attempt per alert",
            )
            first_round = Counter(d.transition_id for d in hook.snapshot())
            # The retry is due now instead of after its backoff: it is sent once more.
            AlertOutbox.objects.update(next_attempt_at=rows[0].next_attempt_at)
            wait_until(
                lambda: outcomes_per_row() == {r.pk: ["timeout", "timeout"] for r in rows},
                what="a second timed-out attempt per alert",
            )
        deliveries = hook.snapshot()
    finally:
        hook.stop()
    assert first_round == Counter(dict.fromkeys((r.transition_id for r in rows), 1))
    assert Counter(d.transition_id for d in deliveries) == Counter(
        dict.fromkeys((r.transition_id for r in rows), 2)
    )
    assert all(d.header_key == str(d.transition_id) for d in deliveries)
    for row in rows:
        first, second = AlertDeliveryAttempt.objects.filter(outbox=row).order_by("number")
        assert first.finished_at is not None and first.finished_at <= second.started_at
