"""Real Celery worker and beat processes on Redis and PostgreSQL, probing the sandbox."""

from __future__ import annotations

import base64
import json
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection
from django.db.models import Count, Min

from integrations import clock
from integrations.choices import HealthState
from integrations.models import (
    AccessToken,
    Endpoint,
    EndpointHealth,
    HealthTransition,
    ProbeResult,
)
from integrations.services.alerts import alerts_deliver
from integrations.services.dispatch import health_rows_ensure, probes_claim
from integrations.tasks.probes import probe_batches_send
from portal.celery import app as celery_app
from tests.helpers import wait_until
from tests.integrations import celery_processes as procs
from tests.integrations.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hook(settings: Any) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    settings.ALERT_WEBHOOK_URL = receiver.url
    settings.OUTBOUND_ALLOWLIST = [*settings.OUTBOUND_ALLOWLIST, receiver.hostport]
    yield receiver
    receiver.stop()


def env_for(sandbox: Any, hook: WebhookReceiver | None = None, **extra: str) -> dict[str, str]:
    allow = f"127.0.0.1:{sandbox.port}" + (f",{hook.hostport}" if hook else "")
    overrides = {"PORTAL_OUTBOUND_ALLOWLIST": allow, **extra}
    if hook is not None:
        overrides["PORTAL_ALERT_WEBHOOK_URL"] = hook.url
    return procs.child_env(**overrides)


def clone_endpoints(endpoint: Endpoint, count: int, **fields: Any) -> list[Endpoint]:
    Endpoint.objects.filter(pk=endpoint.pk).update(**fields)
    clones = [endpoint]
    for n in range(1, count):
        clone = Endpoint.objects.get(pk=endpoint.pk)
        clone.pk, clone.slug, clone.name = None, f"getprofile-{n}", f"Get profile {n}"
        clone.save()
        clones.append(clone)
    return clones


def test_a_worker_refreshes_a_token_before_expiry_and_probes_the_sandbox(
    demo_endpoint: Endpoint, sandbox: Any, broker: redis.Redis, fleet: procs.Fleet, tmp_path: Path
) -> None:
    sandbox.set_faults(token_lifetime_s=12)
    env = env_for(sandbox, PORTAL_TOKEN_REFRESH_JITTER_S="2")
    with procs.running(
        fleet.worker(env, tmp_path / "worker.log", "w1"),
        fleet.beat(env, tmp_path / "beat.log", tmp_path),
    ):
        first = wait_until(
            lambda: AccessToken.objects.filter(
                pk=demo_endpoint.oauth_client_id, token__isnull=False
            ).first(),
            what="the first probe's token fetch",
        )
        refreshed = wait_until(
            lambda: AccessToken.objects.filter(
                pk=first.pk, fetched_at__gt=first.fetched_at
            ).first(),
            what="a proactive refresh",
        )
    assert refreshed.fetched_at < first.expires_at  # renewed before the old token expired
    assert refreshed.token.reveal() != first.token.reveal()
    assert ProbeResult.objects.filter(endpoint=demo_endpoint, ok=True).exists()
    assert EndpointHealth.objects.get(pk=demo_endpoint.pk).state == HealthState.HEALTHY
    assert HealthTransition.objects.filter(endpoint=demo_endpoint, to_state="healthy").exists()


def test_two_beats_and_two_workers_never_probe_a_slot_twice_nor_alert_twice(
    demo_endpoint: Endpoint,
    sandbox: Any,
    broker: redis.Redis,
    hook: WebhookReceiver,
    fleet: procs.Fleet,
    tmp_path: Path,
) -> None:
    endpoints = clone_endpoints(
        demo_endpoint,
        12,
        probe_interval_s=5,
        retry_interval_s=5,
        failure_threshold=2,
        success_threshold=1,
    )
    env = env_for(sandbox, hook)
    (tmp_path / "b1").mkdir()
    (tmp_path / "b2").mkdir()
    with procs.running(
        fleet.worker(env, tmp_path / "w1.log", "w1"),
        fleet.worker(env, tmp_path / "w2.log", "w2"),
        fleet.beat(env, tmp_path / "beat1.log", tmp_path / "b1"),
        fleet.beat(env, tmp_path / "beat2.log", tmp_path / "b2"),
    ):
        wait_until(lambda: ProbeResult.objects.count() >= len(endpoints), what="first probes")
        sandbox.set_faults(error_rate=1.0)
        wait_until(
            lambda: EndpointHealth.objects.filter(state=HealthState.DOWN).count() == len(endpoints),
            what="every endpoint down",
        )
        sandbox.set_faults(error_rate=0.0)
        wait_until(
            lambda: (
                EndpointHealth.objects.filter(state=HealthState.HEALTHY).count() == len(endpoints)
            ),
            what="every endpoint healthy again",
        )
        settled = ProbeResult.objects.count()
        wait_until(
            lambda: ProbeResult.objects.count() >= settled + len(endpoints),
            what="another round of probes with both beats running",
        )
    alerts_deliver()  # anything still pending after the workers stopped
    slots = ProbeResult.objects.values("endpoint", "due_at").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in slots)
    assert sandbox.stats()["profile_requests"] == ProbeResult.objects.count()
    transitions = list(HealthTransition.objects.values_list("pk", flat=True))
    assert len(transitions) >= 3 * len(endpoints)  # unknown→healthy, →degraded, →down, →healthy
    delivered = [alert["portal"]["transition_id"] for alert in hook.received]
    assert sorted(delivered) == sorted(transitions)


def test_a_batch_whose_worker_is_killed_is_redone_without_loss_or_duplicates(
    demo_endpoint: Endpoint, sandbox: Any, broker: redis.Redis, fleet: procs.Fleet, tmp_path: Path
) -> None:
    endpoints = clone_endpoints(demo_endpoint, 8, probe_interval_s=300)
    health_rows_ensure()
    first_due = dict(EndpointHealth.objects.values_list("pk", "next_probe_at"))
    sandbox.set_faults(latency_ms=4000)  # the batch is in flight when the worker dies
    env = env_for(sandbox, PORTAL_PROBE_CLAIM_LEASE_S="6")
    doomed = fleet.worker(env, tmp_path / "doomed.log", "doomed")
    with procs.running(fleet.beat(env, tmp_path / "beat.log", tmp_path)):
        wait_until(lambda: sandbox.stats()["profile_requests"] > 0, what="a batch in flight")
        procs.stop(doomed, signal.SIGKILL)
        assert ProbeResult.objects.count() == 0
        sandbox.set_faults(latency_ms=0)
        with procs.running(fleet.worker(env, tmp_path / "rescue.log", "rescue")):
            wait_until(
                lambda: ProbeResult.objects.count() >= len(endpoints),
                what="the killed batch redone",
            )
    earliest = dict(
        ProbeResult.objects.values("endpoint")
        .annotate(first=Min("due_at"))
        .values_list("endpoint", "first")
    )
    assert earliest == {pk: first_due[pk] for pk in earliest}
    assert set(earliest) == {e.pk for e in endpoints}
    slots = ProbeResult.objects.values("endpoint", "due_at").annotate(n=Count("id"))
    assert all(row["n"] == 1 for row in slots)


def _broker_idle(client: redis.Redis) -> bool:
    """Nothing queued and nothing delivered but unacknowledged (tasks ack late)."""
    return not client.llen("celery") and not client.hlen("unacked")


def _redis_texts(client: redis.Redis) -> list[str]:
    """Every value stored in the broker's database, message bodies base64-decoded too."""
    texts = []
    for key in client.scan_iter():
        kind = client.type(key).decode()
        values: list[bytes] = []
        if kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "hash":
            values = list(client.hgetall(key).values())
        elif kind == "string":
            values = [client.get(key) or b""]
        elif kind in ("set", "zset"):
            values = list(client.smembers(key)) if kind == "set" else client.zrange(key, 0, -1)
        for value in values:
            text = value.decode(errors="replace")
            texts.append(text)
            texts.extend(_decoded_bodies(text))
    return texts


def _decoded_bodies(text: str) -> list[str]:
    try:
        message = json.loads(text)
    except ValueError:
        return []
    if isinstance(message, list):  # unacked entries: [message, exchange, routing key]
        message = message[0] if message and isinstance(message[0], dict) else {}
    body = message.get("body") if isinstance(message, dict) else None
    return [base64.b64decode(body).decode(errors="replace")] if isinstance(body, str) else []


def test_task_messages_in_redis_carry_ids_never_secrets(
    demo_endpoint: Endpoint, sandbox: Any, broker: redis.Redis, fleet: procs.Fleet, tmp_path: Path
) -> None:
    canaries = ["canary-broker-client-secret", "canary-broker-api-key", "canary-broker-pw"]
    oauth, key, user = (
        demo_endpoint.oauth_client,
        demo_endpoint.api_key,
        demo_endpoint.default_test_user,
    )
    oauth.client_secret, key.value, user.password = canaries
    oauth.save()
    key.save()
    user.save()
    env = env_for(sandbox)
    with procs.running(fleet.beat(env, tmp_path / "beat.log", tmp_path)):
        wait_until(
            lambda: [t for t in _redis_texts(broker) if "probe_dispatch_task" in t],
            what="beat's dispatch tick queued in Redis",
        )
    # What a worker's dispatch tick does, done here so no worker consumes the batches
    # before they are read.
    health_rows_ensure()
    with celery_app.connection_for_write(procs.REDIS_URL) as conn:
        probe_batches_send(probes_claim(), connection=conn)
    texts = _redis_texts(broker)
    assert [t for t in texts if "probe_batch_task" in t]
    assert any(f"[{demo_endpoint.pk}, " in t for t in texts)  # the message holds the id
    assert not [c for c in canaries if any(c in t for t in texts)]
    with procs.running(fleet.worker(env, tmp_path / "worker.log", "w1")):
        wait_until(lambda: ProbeResult.objects.exists(), what="the batch processed")
        wait_until(lambda: _broker_idle(broker), what="the worker to acknowledge every message")
        after = _redis_texts(broker)
    assert not [c for c in canaries if any(c in t for t in after)]
    assert clock.now() - ProbeResult.objects.get().started_at < timedelta(minutes=2)


def test_workers_reconnect_when_the_database_drops_their_connections(
    demo_endpoint: Endpoint, sandbox: Any, broker: redis.Redis, fleet: procs.Fleet, tmp_path: Path
) -> None:
    clone_endpoints(demo_endpoint, 4, probe_interval_s=5, retry_interval_s=5)
    env = env_for(sandbox)
    log = tmp_path / "worker.log"
    with procs.running(
        fleet.worker(env, log, "w1"), fleet.beat(env, tmp_path / "beat.log", tmp_path)
    ):
        wait_until(lambda: ProbeResult.objects.count() >= 4, what="first probes")
        # What a database restart or failover does to the workers' kept connections.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchall(), "the workers held no connection to drop"
        before = ProbeResult.objects.count()
        wait_until(
            lambda: ProbeResult.objects.count() >= before + 8, what="probes after reconnecting"
        )
    # Each kept connection is checked before a task uses it: no task fails on a dead one.
    assert "OperationalError" not in log.read_text()
