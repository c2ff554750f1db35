"""Every due probe slot ends as one result: probed (late, with its lateness) or missed.

A world of two customers with two environments each and three endpoints per
environment, all on one loopback customer that records what it receives. The clock is
moved by hand, so each outage is exact: a worker lost after claiming, no dispatch tick
for a while (broker down), a dispatcher that cannot keep up (overdue), an endpoint
switched off for an hour, a fleet down for two hours.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.urls import reverse

from integrations import clock
from integrations.choices import MissedReason
from integrations.models import Endpoint, EndpointHealth, HourlyRollup, ProbeResult
from integrations.services.dispatch import health_rows_ensure, probes_claim
from integrations.services.probe_recording import MissedSlot
from integrations.services.probe_runs import probe_batch_run
from integrations.services.rollups import hour_of
from integrations.tasks.probes import probe_batches_send
from portal.celery import app
from tests.factories import make_customer, make_endpoint, make_environment, make_user
from tests.integrations.outbound_servers import HostileServer, Received, ok_json, serving

INTERVAL = timedelta(seconds=10)
T0 = datetime.fromisoformat("2026-12-02T10:00:00+00:00")


class Clock:
    """The portal's clock, moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.at = T0
        monkeypatch.setattr(clock, "now", lambda: self.at)

    def to(self, seconds: float) -> datetime:
        self.at = T0 + timedelta(seconds=seconds)
        return self.at


@pytest.fixture
def customer_api(settings: Any) -> Iterator[HostileServer]:
    with serving(ok_json) as server:
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        settings.PROBE_CLAIM_LEASE_S = 30
        settings.PROBE_MISSED_AFTER_INTERVALS = 1
        yield server


@pytest.fixture
def world(customer_api: HostileServer) -> list[Endpoint]:
    endpoints = []
    for c in ("acme", "globex"):
        customer = make_customer(slug=c, name=c.title())
        for e in ("uat", "prod"):
            environment = make_environment(
                customer=customer, slug=e, name=e.upper(), base_url=customer_api.url()
            )
            for n in range(3):
                endpoints.append(
                    make_endpoint(
                        environment=environment,
                        slug=f"op-{n}",
                        path=f"/{c}/{e}/op-{n}",
                        probe_interval_s=10,
                        retry_interval_s=10,
                    )
                )
    return endpoints


def tick(run: bool = True, *, limit: int | None = None) -> list[tuple[int, datetime]]:
    """One dispatch tick, its batch run at once unless the worker is 'lost'."""
    health_rows_ensure()
    slots = [(s.endpoint_id, s.due_at) for s in probes_claim(limit=limit)]
    if run and slots:
        probe_batch_run(slots=slots)
    return slots


def slots_of(endpoint: Endpoint) -> list[tuple[datetime, str, bool]]:
    rows = ProbeResult.objects.filter(endpoint=endpoint).order_by("due_at")
    return list(rows.values_list("due_at", "missed_reason", "ok"))


def assert_no_holes(endpoints: list[Endpoint], *, until: datetime) -> Counter[str]:
    """Every slot from T0 to the last one has exactly one row, and the schedule has
    reached ``until``; returns how many slots ended each way ("probed" or a reason)."""
    ends: Counter[str] = Counter()
    for endpoint in endpoints:
        due = [at for at, _, _ in slots_of(endpoint)]
        expected = [T0 + INTERVAL * n for n in range(len(due))]
        assert due == expected, f"{endpoint.path}: slots {due} are not every slot from T0"
        health = EndpointHealth.objects.get(pk=endpoint.pk)
        assert health.next_probe_at is not None and health.next_probe_at > until - INTERVAL
        ends.update(reason or "probed" for _, reason, _ in slots_of(endpoint))
    return ends


def paths(requests: list[Received]) -> Counter[str]:
    return Counter(r.target for r in requests)


pytestmark = pytest.mark.django_db


def test_a_lost_worker_delays_a_probe_by_the_lease_and_its_slots_are_missed_not_silent(
    world: list[Endpoint], customer_api: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = Clock(monkeypatch)
    lost = tick(run=False)  # claimed at T0, then the worker dies with the batch
    assert len(lost) == 12
    moved.to(29)
    assert tick() == []  # the claims still hold: nobody probes the lost slots twice
    moved.to(31)
    redone = tick()  # the lease has run out: the latest due slot is probed now
    assert {due for _, due in redone} == {T0 + 3 * INTERVAL}
    assert paths(customer_api.requests) == Counter(e.path for e in world)

    for endpoint in world:
        assert slots_of(endpoint) == [
            (T0, MissedReason.WORKER_LOST, False),
            (T0 + INTERVAL, MissedReason.WORKER_LOST, False),
            (T0 + 2 * INTERVAL, MissedReason.WORKER_LOST, False),
            (T0 + 3 * INTERVAL, "", True),
        ]
    probed = ProbeResult.objects.filter(missed_reason="")
    assert {r.lag_ms for r in probed} == {1000.0}  # due at 30 s, probed at 31 s
    missed = ProbeResult.objects.exclude(missed_reason="").first()
    assert missed is not None and "lease" in missed.message

    # The lost batch turns up late after all: it calls nobody and stores nothing.
    calls = len(customer_api.requests)
    assert probe_batch_run(slots=lost) == 0
    assert len(customer_api.requests) == calls
    rollup = HourlyRollup.objects.aggregate(count=Sum("count"), missed=Sum("missed"))
    assert rollup == {"count": 12, "missed": 36}


def test_no_dispatch_tick_for_a_while_is_recorded_as_broker_down(
    world: list[Endpoint], customer_api: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = Clock(monkeypatch)
    tick()
    moved.to(45)  # no tick from 0 s to 45 s: the broker (or beat) was down
    assert {due for _, due in tick()} == {T0 + 4 * INTERVAL}
    ends = assert_no_holes(world, until=moved.at)
    assert ends == {"probed": 24, MissedReason.BROKER_DOWN: 36}
    assert paths(customer_api.requests) == Counter({e.path: 2 for e in world})


def test_a_dispatcher_that_cannot_keep_up_records_overdue_slots(
    world: list[Endpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = Clock(monkeypatch)
    for second in range(0, 120, 5):  # ticks every 5 s, but 4 endpoints a tick for 12
        moved.to(second)
        tick(limit=4)
    ends = assert_no_holes(world, until=moved.at)
    assert ends[MissedReason.OVERDUE] > 0 and ends["probed"] == 24 * 4
    assert MissedReason.BROKER_DOWN not in ends and MissedReason.WORKER_LOST not in ends


def test_an_endpoint_switched_off_for_an_hour_has_no_missed_slots_when_it_is_back(
    world: list[Endpoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = Clock(monkeypatch)
    tick()
    off = world[0]
    Endpoint.objects.filter(pk=off.pk).update(probe_enabled=False)
    environment = world[3].environment  # a whole environment switched off too
    type(environment).objects.filter(pk=environment.pk).update(is_enabled=False)
    for second in range(10, 3600, 600):
        moved.to(second)
        tick()
    Endpoint.objects.filter(pk=off.pk).update(probe_enabled=True)
    type(environment).objects.filter(pk=environment.pk).update(is_enabled=True)
    moved.to(3605)
    tick()
    paused = [off, *[e for e in world if e.environment_id == environment.pk]]
    for endpoint in paused:
        assert [reason for _, reason, _ in slots_of(endpoint)] == ["", ""]
        assert slots_of(endpoint)[-1][0] == moved.at  # probed as soon as it was back


def test_after_a_long_outage_old_missed_slots_are_counted_not_stored_one_by_one(
    world: list[Endpoint], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PROBE_MISSED_MAX_ROWS = 50
    moved = Clock(monkeypatch)
    health_rows_ensure()
    moved.to(7200)  # two hours with nothing running: 720 slots per endpoint
    tick()
    endpoint = world[0]
    rows = ProbeResult.objects.filter(endpoint=endpoint).exclude(missed_reason="")
    assert rows.count() == 50
    oldest = rows.order_by("due_at").first()
    assert oldest is not None and "670 earlier slots since 2026-12-02 10:00:00" in oldest.message
    per_hour = dict(
        HourlyRollup.objects.filter(endpoint=endpoint).values_list("hour", "missed").order_by()
    )
    assert per_hour == {T0: 360, T0 + timedelta(hours=1): 360, T0 + timedelta(hours=2): 0}


def test_the_dashboards_and_the_api_show_missed_slots_and_a_monitoring_gap(
    world: list[Endpoint], client: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = Clock(monkeypatch)
    tick()
    quiet = world[0]  # its probes stop being recorded: say, its batches keep dying
    moved.to(25)
    EndpointHealth.objects.filter(pk=quiet.pk).update(claimed_until=T0 + timedelta(minutes=5))
    tick()
    client.force_login(make_user("viewer"))
    env = quiet.environment
    page = client.get(
        reverse("integrations:environment", args=[env.customer.slug, env.slug]),
        {"partial": 1},
    ).content.decode()
    row = page.split(f'id="endpoint-{quiet.slug}"')[1].split("</tr>")[0]
    assert "monitoring gap" in row
    sibling = page.split(f'id="endpoint-{world[1].slug}"')[1].split("</tr>")[0]
    assert "monitoring gap" not in sibling and "missed 1 / 1 / 1 slots" in sibling
    overview = client.get(reverse("integrations:overview"), {"partial": 1}).content.decode()
    line = overview.split(f'id="env-{env.pk}"')[1].split("</tr>")[0]
    assert "monitoring gap: 1" in line
    rows = client.get("/api/v1/overview/").json()["results"]
    gaps_by_env = {(r["customer"], r["environment"]): r["monitoring_gaps"] for r in rows}
    assert gaps_by_env[(env.customer.slug, env.slug)] == 1 and sum(gaps_by_env.values()) == 1

    health = client.get(f"/api/v1/endpoint-health/?environment={env.pk}").json()["results"]
    gaps = {h["endpoint"]: h["monitoring_gap"] for h in health}
    assert gaps[quiet.pk] is True and gaps[world[1].pk] is False
    missed = client.get("/api/v1/probe-results/?missed_reason=broker_down").json()["results"]
    assert {r["endpoint"] for r in missed} == {e.pk for e in world[1:]}

    settings.PORTAL_METRICS_TOKEN = "metrics-token-for-the-test"
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-for-the-test")
    lines = text.content.decode().splitlines()
    quiet_labels = f'customer="acme",environment="uat",endpoint="{quiet.slug}"'
    sibling_labels = f'customer="acme",environment="uat",endpoint="{world[1].slug}"'
    assert f"portal_endpoint_monitoring_gap{{{quiet_labels}}} 1" in lines
    assert f"portal_endpoint_monitoring_gap{{{sibling_labels}}} 0" in lines
    assert f"portal_probe_slots_missed_total{{{sibling_labels}}} 1" in lines


@pytest.mark.django_db(transaction=True)
def test_a_long_batch_keeps_its_claims_by_heartbeat(settings: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("two connections writing at once: PostgreSQL")
    settings.PROBE_CLAIM_LEASE_S = 3
    release = threading.Event()

    def slow(conn: Any, request: Received, server: HostileServer) -> bool:
        release.wait(10)
        return ok_json(conn, request, server)

    with serving(slow) as server:
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        environment = make_environment(base_url=server.url())
        for n in range(3):
            make_endpoint(environment=environment, path=f"/slow/{n}", probe_interval_s=60)
        slots = tick(run=False)
        done: list[int] = []

        def run() -> None:  # as a worker would, on its own connection
            try:
                done.append(probe_batch_run(slots=slots))
            finally:
                connection.close()

        batch = threading.Thread(target=run)
        batch.start()
        try:
            time.sleep(settings.PROBE_CLAIM_LEASE_S + 1.5)  # the time passing is the test
            assert tick(run=False) == []  # renewed: no second claim of a running batch
        finally:
            release.set()
            batch.join(30)
    assert done == [3]
    assert ProbeResult.objects.filter(missed_reason="").count() == 3
    assert not EndpointHealth.objects.filter(claimed_until__isnull=False).exists()


def test_a_broker_that_refuses_the_batches_gives_their_claims_back_at_once(
    world: list[Endpoint], settings: Any
) -> None:
    settings.PROBE_BATCH_SIZE = 5
    health_rows_ensure()
    slots = probes_claim()
    assert EndpointHealth.objects.filter(claimed_until__isnull=False).count() == 12
    with app.connection_for_write("redis://127.0.0.1:9/0") as refused:
        assert probe_batches_send(slots, connection=refused) == 0
    assert not EndpointHealth.objects.filter(claimed_until__isnull=False).exists()
    assert {s.due_at for s in probes_claim()} == {s.due_at for s in slots}  # claimable now


@pytest.mark.parametrize("interval_s", [5, 7, 60, 3600, 5000])
def test_missed_slots_are_counted_into_the_hours_they_were_due_in(interval_s: int) -> None:
    interval = timedelta(seconds=interval_s)
    start = T0 + timedelta(seconds=13)
    earlier = 5000
    latest = start + interval * earlier
    slot = MissedSlot(
        1, latest, MissedReason.BROKER_DOWN, earlier=earlier, earlier_from=start, interval=interval
    )
    one_by_one = Counter(hour_of(start + interval * n) for n in range(earlier))
    one_by_one[hour_of(latest)] += 1
    assert slot.hours() == dict(one_by_one)
