"""The chaos suite: real Celery workers and beats on a broker of the test's own and
PostgreSQL, probing a loopback customer, while a worker is killed mid-batch, the broker
is killed and started again, every worker database connection is dropped, or two beats
run at once. After each, every due slot in the window has exactly one row (a probe or a
missed record with its reason), the slots follow the schedule with no hole, and every
health change reached the alert receiver exactly once.

Each step prints its figures (slots, on time, late, missed by reason, lost, the longest
gap, lag p99) for the reliability notes. See tests/integrations/chaos_world.py and
chaos_audit.py.
"""

from __future__ import annotations

import functools
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from integrations import clock
from integrations.choices import MissedReason
from tests.helpers import wait_until
from tests.integrations import celery_processes as procs
from tests.integrations.alert_receiver import AlertReceiver
from tests.integrations.chaos_audit import Figures
from tests.integrations.chaos_world import (
    Chaos,
    LoopbackCustomer,
    ThrowawayRedis,
    chaos_env,
    loopback_customer,
    worker_mid_request,
    world_build,
)
from tests.integrations.db_drops import WORKER_APP_NAME, backends_terminate, side_connection

pytestmark = [pytest.mark.chaos, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BROKER_OUTAGE_S = 10
DROP_ROUNDS = 3


@pytest.fixture
def chaos_broker(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the database: needs PostgreSQL")
    (tmp_path / "redis").mkdir()
    broker = ThrowawayRedis(tmp_path / "redis")
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def customer() -> Iterator[LoopbackCustomer]:
    with loopback_customer() as running:
        yield running


@pytest.fixture
def hook() -> Iterator[AlertReceiver]:
    receiver = AlertReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def chaos(
    chaos_broker: ThrowawayRedis,
    customer: LoopbackCustomer,
    hook: AlertReceiver,
    fleet: procs.Fleet,
    tmp_path: Path,
) -> Chaos:
    assert customer.server is not None
    endpoints = world_build(customer.server.url())
    env = chaos_env(customer, hook, chaos_broker.url)
    return Chaos(fleet, tmp_path, env, customer, hook, endpoints)


def report(figures: Figures, step: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The step's figures on the terminal, captured or not: the notes quote them."""
    with capsys.disabled():
        print(f"\n{figures.summary(step)}")


def test_a_worker_killed_mid_batch_leaves_every_slot_with_one_row(
    chaos: Chaos, capsys: pytest.CaptureFixture[str]
) -> None:
    doomed = chaos.worker("doomed")
    chaos.worker("survivor")
    chaos.beat("beat")
    chaos.steady()
    wait_until(
        lambda: worker_mid_request(doomed, chaos.customer),
        what="the doomed worker with a probe request in flight",
    )
    procs.stop(doomed, signal.SIGKILL)
    figures = chaos.finish(struck_until=clock.now())
    report(figures, "sigkill-worker", capsys)
    chaos.assert_whole(figures)
    # The killed batch's slots were given up after the lease, not left as holes.
    assert figures.missed[MissedReason.WORKER_LOST] > 0
    assert figures.calls_unrecorded > 0  # its requests went out; their results died with it


def test_a_broker_killed_and_started_again_leaves_every_slot_with_one_row(
    chaos: Chaos, chaos_broker: ThrowawayRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos.worker("w1")
    chaos.worker("w2")
    chaos.beat("beat")
    chaos.steady()
    wait_until(lambda: chaos.customer.ports_in_flight(), what="a probe batch in flight")
    chaos_broker.kill()  # everything queued is lost with it: no snapshot, no AOF
    time.sleep(BROKER_OUTAGE_S)  # the outage's length is the test
    chaos_broker.start()
    wait_until(chaos.workers_reconnected, what="every worker back on the broker, or exited")
    # A worker may exit on the connection loss (celery 5.7 / kombu 5.7: "Unrecoverable
    # error: AttributeError ... 'hostname'" while restoring unacked messages): the
    # deployment's supervisor restarts it, and so does the test. The figures count them.
    chaos.workers_restart_exited()
    figures = chaos.finish(struck_until=clock.now())
    report(figures, "broker-restart", capsys)
    chaos.assert_whole(figures)
    # No tick could run for the outage: its slots are missed records, with a reason.
    assert figures.missed[MissedReason.BROKER_DOWN] + figures.missed[MissedReason.WORKER_LOST]


def test_every_worker_database_connection_dropped_leaves_every_slot_with_one_row(
    chaos: Chaos, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos.worker("w1")
    chaos.worker("w2")
    chaos.beat("beat")
    chaos.steady()
    dropped = []
    with side_connection() as side:
        for _ in range(DROP_ROUNDS):
            calls = chaos.customer.total()
            wait_until(
                functools.partial(chaos.customer.in_flight_after, calls),
                what="a probe batch in flight since the last round",
            )
            dropped += backends_terminate(side, app_name=WORKER_APP_NAME)
    figures = chaos.finish(struck_until=clock.now())
    report(figures, "db-connections-dropped", capsys)
    assert dropped, "the workers held no database connection to drop"
    chaos.assert_whole(figures)
    logs = chaos.logs()
    assert any("retrying on a fresh connection" in logs[w] for w in ("w1", "w2"))


def test_two_beats_at_once_probe_every_slot_once(
    chaos: Chaos, capsys: pytest.CaptureFixture[str]
) -> None:
    chaos.worker("w1")
    chaos.worker("w2")
    chaos.beat("beat1")
    chaos.beat("beat2")
    start = chaos.steady()
    figures = chaos.finish(struck_until=start)
    report(figures, "two-beats", capsys)
    chaos.assert_whole(figures)
    logs = chaos.logs()
    assert all("dispatch-due-probes" in logs[b] for b in ("beat1", "beat2"))  # both ticked
    assert figures.calls_unrecorded == 0  # no slot was probed twice, nor a call left unrecorded
