"""/metrics counters and the latency histogram only grow, by exactly what was recorded.

Two customers with two environments each, three endpoints per environment (one fast,
one slow, one failing with a 503) on one loopback customer API. Probes go through the
real path: a dispatch tick claims the due slots (recording missed ones) and the probe
batch calls the server and records the results. The clock is moved by hand; between
scrapes the test knows exactly which slots were recorded, from the stored results.
"""

from __future__ import annotations

import socket
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from integrations import clock
from integrations.models import Endpoint, HourlyRollup, ProbeCounter, ProbeResult
from integrations.models.health import LATENCY_BUCKETS_MS
from integrations.services import probe_runs, rollups
from integrations.services.dispatch import health_rows_ensure, probes_claim
from integrations.services.probe_recording import probe_outcomes_record
from integrations.services.probe_runs import probe_batch_run
from integrations.services.probes import ProbeOutcome
from integrations.services.retention import probe_results_prune, rollups_reconcile
from tests.factories import make_customer, make_endpoint, make_environment
from tests.integrations.outbound_servers import HostileServer, Received, ok_json, respond, serving

pytestmark = pytest.mark.django_db

T0 = datetime.fromisoformat("2026-12-02T10:00:00+00:00")
TOKEN = "metrics-token-for-the-counters"
COUNTERS = ("portal_probes", "portal_probe_slots_missed", "portal_probe_schedule_lag_seconds")
LATENCY = "portal_probe_latency_seconds"
Key = tuple[str, tuple[tuple[str, str], ...]]


def customer_api(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    if request.target.endswith("/failing"):
        return respond(conn, 503, b'{"error": "down"}', Content_Type="application/json")
    if request.target.endswith("/slow"):
        time.sleep(0.06)  # past the 50 ms bucket
    return ok_json(conn, request, server)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.at = T0
        monkeypatch.setattr(clock, "now", lambda: self.at)

    def to(self, seconds: float) -> datetime:
        self.at = T0 + timedelta(seconds=seconds)
        return self.at


@pytest.fixture
def world(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Endpoint]]:
    with serving(customer_api) as server:
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        settings.PROBE_MISSED_AFTER_INTERVALS = 1
        settings.PORTAL_METRICS_TOKEN = TOKEN
        endpoints = []
        for c in ("acme", "globex"):
            customer = make_customer(slug=c, name=c.title())
            for e in ("uat", "prod"):
                environment = make_environment(
                    customer=customer, slug=e, name=e.upper(), base_url=server.url()
                )
                for kind in ("fast", "slow", "failing"):
                    endpoints.append(
                        make_endpoint(
                            environment=environment,
                            slug=kind,
                            path=f"/{c}/{e}/{kind}",
                            probe_interval_s=10,
                            retry_interval_s=10,
                        )
                    )
        yield endpoints


def tick() -> list[tuple[int, datetime]]:
    """One dispatch tick (missed slots recorded) and its probe batch, run at once."""
    health_rows_ensure()
    slots = [(s.endpoint_id, s.due_at) for s in probes_claim()]
    if slots:
        probe_batch_run(slots=slots)
    return slots


def scrape(client: Client) -> dict[str, Any]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    assert [f.name for f in families.values() if f.type == "unknown"] == []
    return families


def values(families: dict[str, Any]) -> dict[Key, float]:
    """Every counter and histogram sample, by sample name and labels."""
    found = {}
    for name in (*COUNTERS, LATENCY):
        for s in families[name].samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def labels_of(endpoint: Endpoint) -> dict[str, str]:
    env = endpoint.environment
    return {"customer": env.customer.slug, "environment": env.slug, "endpoint": endpoint.slug}


def key(name: str, endpoint: Endpoint, **extra: str) -> Key:
    return (name, tuple(sorted({**labels_of(endpoint), **extra}.items())))


def expected_increase(endpoints: list[Endpoint], *, since: datetime) -> dict[Key, float]:
    """What the results stored for slots due at or after ``since`` must add, per sample."""
    by_pk = {e.pk: e for e in endpoints}
    grows: dict[Key, float] = defaultdict(float)
    for row in ProbeResult.objects.filter(due_at__gte=since):
        endpoint = by_pk[row.endpoint_id]
        if row.missed_reason:
            grows[key("portal_probe_slots_missed_total", endpoint)] += 1
            continue
        outcome = "ok" if row.ok else row.error_class
        grows[key("portal_probes_total", endpoint, outcome=outcome)] += 1
        grows[key("portal_probe_schedule_lag_seconds_total", endpoint)] += row.lag_ms / 1000
        if row.latency_ms is None:
            continue
        grows[key(f"{LATENCY}_count", endpoint)] += 1
        grows[key(f"{LATENCY}_sum", endpoint)] += row.latency_ms / 1000
        for bound in (*LATENCY_BUCKETS_MS, float("inf")):
            if row.latency_ms <= bound:
                le = "+Inf" if bound == float("inf") else str(bound / 1000)
                grows[key(f"{LATENCY}_bucket", endpoint, le=le)] += 1
    return grows


def assert_grew_by(
    before: dict[Key, float], after: dict[Key, float], grows: dict[Key, float]
) -> None:
    assert set(after) == set(before)
    for sample, value in after.items():
        assert value >= before[sample], f"{sample} went down: {before[sample]} -> {value}"
        assert value - before[sample] == pytest.approx(grows.get(sample, 0), abs=1e-6), sample


def assert_histograms_consistent(families: dict[str, Any], endpoints: list[Endpoint]) -> None:
    for endpoint in endpoints:
        samples = [
            s for s in families[LATENCY].samples if labels_of(endpoint).items() <= s.labels.items()
        ]
        buckets = [s.value for s in samples if s.name.endswith("_bucket")]
        assert [s.labels["le"] for s in samples if s.name.endswith("_bucket")][-1] == "+Inf"
        assert buckets == sorted(buckets), f"{endpoint.path}: buckets not cumulative"
        count = next(s.value for s in samples if s.name.endswith("_count"))
        assert count == buckets[-1]


def test_counters_and_buckets_grow_by_exactly_the_probes_recorded_between_scrapes(
    world: list[Endpoint], client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = Clock(monkeypatch)
    first = scrape(client)
    before = values(first)
    assert set(before.values()) == {0}  # every series exists from the start, at 0
    assert len(world) == 12

    since = moved.to(0)
    assert len(tick()) == 12
    second = scrape(client)
    assert_grew_by(before, values(second), expected_increase(world, since=since))
    assert_histograms_consistent(second, world)

    since = moved.to(10)
    moved.to(45)  # no tick for 35 s: the slots due at 10, 20 and 30 s are missed
    assert {due for _, due in tick()} == {T0 + timedelta(seconds=40)}
    third = scrape(client)
    grows = expected_increase(world, since=since)
    assert grows[key("portal_probe_slots_missed_total", world[0])] == 3
    assert_grew_by(values(second), values(third), grows)
    assert_histograms_consistent(third, world)

    fast, slow, failing = world[:3]
    ok = values(third)
    assert ok[key("portal_probes_total", fast, outcome="ok")] == 2
    assert ok[key("portal_probes_total", failing, outcome="http_5xx")] == 2
    assert ok[key("portal_probes_total", failing, outcome="ok")] == 0
    assert ok[key(f"{LATENCY}_bucket", slow, le="0.05")] == 0
    assert ok[key(f"{LATENCY}_bucket", slow, le="+Inf")] == 2
    assert ok[key("portal_probe_schedule_lag_seconds_total", fast)] == pytest.approx(5.0)


def test_pruning_results_and_rollups_between_scrapes_decreases_nothing(
    world: list[Endpoint], client: Client, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved = Clock(monkeypatch)
    for second in (0, 10, 20):
        moved.to(second)
        tick()
    before = values(scrape(client))

    moved.to(3 * 3600)
    settings.PROBE_RESULT_RETENTION_DAYS = 0
    assert probe_results_prune() == 36
    HourlyRollup.objects.filter(hour__lt=moved.at).delete()  # as a rollup retention would
    rollups_reconcile(hours=4)
    after = values(scrape(client))

    assert after == before
    assert before[key("portal_probes_total", world[0], outcome="ok")] == 3


def test_a_batch_recorded_again_after_a_lost_answer_counts_once(
    world: list[Endpoint], client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch)
    recorded: list[list[ProbeOutcome]] = []

    def record(*, outcomes: list[ProbeOutcome]) -> int:
        recorded.append(outcomes)
        return probe_outcomes_record(outcomes=outcomes)

    monkeypatch.setattr(probe_runs, "probe_outcomes_record", record)
    tick()
    once = values(scrape(client))
    [outcomes] = recorded

    # The commit landed but its answer was lost: the same outcomes are recorded again.
    assert probe_outcomes_record(outcomes=outcomes) == 0

    assert values(scrape(client)) == once
    assert once[key("portal_probes_total", world[3], outcome="ok")] == 1
    assert once[key("portal_probes_total", world[2], outcome="http_5xx")] == 1


def test_counter_families_parse_as_counters_named_total(
    world: list[Endpoint], client: Client
) -> None:
    families = scrape(client)

    for name in COUNTERS:
        assert families[name].type == "counter"
        assert {s.name for s in families[name].samples} == {f"{name}_total"}
    assert families[LATENCY].type == "histogram"
    outcomes = {s.labels["outcome"] for s in families["portal_probes"].samples}
    assert outcomes >= {"ok", "http_5xx", "timeout", "connect"} and len(outcomes) == 13
    for gone in ("portal_probes_last_5m", "portal_probe_schedule_lag_avg_seconds"):
        assert gone not in families


def test_every_column_the_counter_upsert_writes_is_a_probe_counter_field() -> None:
    # ProbeCounter repeats HourlyRollup's additive columns by hand: a failure class added
    # to the rollups alone would make every batch's counter upsert fail.
    fields = {f.name for f in ProbeCounter._meta.get_fields()}

    assert set(rollups.COUNTERS.columns()) <= fields
    assert set(rollups.ROLLUPS.additive) <= fields
