"""The chaos suite's world: a loopback customer, a throwaway broker and the fleet's run.

Two customers with two environments each and a dozen endpoints per environment, all
probed every 5 s (the shortest interval an endpoint may have) on one loopback customer
that answers after a short delay, so batches are in flight when a test strikes. A few
endpoints answer 500 for part of the run, so health changes and alerts go out meanwhile.

After the strike the run goes on for the claim lease and a few ticks, the fleet stops
gracefully, and the audit reads every endpoint's results over the window: each due
slot has exactly one row (a probe or a missed record), the slots step by the interval
in force, and every health change reached the alert receiver exactly once
(tests/integrations/chaos_audit.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import redis

from integrations import clock
from integrations.choices import AlertStatus, HealthState
from integrations.models import AlertOutbox, Endpoint, EndpointHealth, HealthTransition, ProbeResult
from integrations.services.dispatch import health_rows_ensure
from tests.factories import make_customer, make_endpoint, make_environment
from tests.helpers import process_stop, wait_until
from tests.integrations import celery_processes as procs
from tests.integrations.alert_receiver import AlertReceiver
from tests.integrations.chaos_audit import (
    Figures,
    alerts_audit,
    assert_whole,
    calls_audit,
    slots_audit,
)
from tests.integrations.db_drops import WORKER_APP_NAME
from tests.integrations.outbound_servers import HostileServer, Received, respond, serving

INTERVAL_S = 5
PER_ENVIRONMENT = 12
LEASE_S = 6
BATCH_SIZE = 4  # about ten endpoints come due per tick: three batches in flight at once
ANSWER_DELAY_S = 0.3
# Waits of a step: a strike's effects are over within the lease and a few ticks.
STEP_WAIT_S = 60.0


# --- the customer -------------------------------------------------------------------------


class LoopbackCustomer:
    """Answers every probe 200 after ``delay_s`` (500 for the paths in ``failing``),
    counting requests per path and noting the client port of each request in flight."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.failing: frozenset[str] = frozenset()
        self.server: HostileServer | None = None
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._in_flight: dict[int, str] = {}  # client port -> path
        self._stopping = threading.Event()

    def handle(self, conn: socket.socket, request: Received, server: HostileServer) -> bool:
        path, port = urlsplit(request.target).path, conn.getpeername()[1]
        with self._lock:
            self._counts[path] += 1
            self._in_flight[port] = path
            failing = path in self.failing
        try:
            self._stopping.wait(self.delay_s)
        finally:
            with self._lock:
                self._in_flight.pop(port, None)
        if failing:
            return respond(conn, 500, b'{"error": "down"}', Content_Type="application/json")
        return respond(conn, 200, b'{"ok": true}', Content_Type="application/json")

    def fail(self, paths: set[str]) -> None:
        with self._lock:
            self.failing = frozenset(paths)

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def total(self) -> int:
        with self._lock:
            return self._counts.total()

    def in_flight_after(self, calls: int) -> bool:
        """Whether a request is in flight and more than ``calls`` have come so far."""
        with self._lock:
            return bool(self._in_flight) and self._counts.total() > calls

    def ports_in_flight(self) -> set[int]:
        with self._lock:
            return set(self._in_flight)

    def stop(self) -> None:
        self._stopping.set()


@contextmanager
def loopback_customer(delay_s: float = ANSWER_DELAY_S) -> Iterator[LoopbackCustomer]:
    customer = LoopbackCustomer(delay_s)
    with serving(customer.handle) as server:
        customer.server = server
        try:
            yield customer
        finally:
            customer.stop()


def world_build(url: str, *, per_environment: int = PER_ENVIRONMENT) -> list[Endpoint]:
    """2 customers x 2 environments x ``per_environment`` endpoints, due a second apart
    in five groups, so each tick claims a few batches rather than all at once."""
    endpoints = []
    for c in ("acme", "globex"):
        customer = make_customer(slug=c, name=c.title())
        for e in ("uat", "prod"):
            environment = make_environment(customer=customer, slug=e, name=e, base_url=url)
            endpoints += [
                make_endpoint(
                    environment=environment,
                    slug=f"op-{n}",
                    path=f"/{c}/{e}/op-{n}",
                    probe_interval_s=INTERVAL_S,
                    retry_interval_s=INTERVAL_S,
                    failure_threshold=2,
                    success_threshold=1,
                )
                for n in range(per_environment)
            ]
    health_rows_ensure()
    now = clock.now()
    for n, endpoint in enumerate(endpoints):
        first = now + timedelta(seconds=n % INTERVAL_S)
        EndpointHealth.objects.filter(pk=endpoint.pk).update(next_probe_at=first)
    return endpoints


# --- the broker ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayRedis:
    """A redis-server of the test's own, on a port of its own: killed and started again
    on the same port, it comes back empty (no snapshot, no append-only file)."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (the chaos suite starts its own broker)"
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        with (self.directory / f"redis-{self.starts}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [self.binary, *args, "no", "--daemonize", "no", "--dir", str(self.directory)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self.answers, what=f"redis-server on port {self.port}", timeout_s=20)

    def answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.ConnectionError:
            return False

    def kill(self) -> None:
        """What a crash does: SIGKILL, and everything queued is gone with it."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None:
            process_stop(self.process)


# --- the fleet ----------------------------------------------------------------------------


def chaos_env(customer: LoopbackCustomer, hook: AlertReceiver, broker_url: str) -> dict[str, str]:
    assert customer.server is not None
    env = procs.child_env(
        CELERY_BROKER_URL=broker_url,
        PORTAL_OUTBOUND_ALLOWLIST=f"{customer.server.hostport},{hook.hostport}",
        PORTAL_ALERT_WEBHOOK_URL=hook.url,
        PORTAL_ALERT_EMAILS="",
        PORTAL_ALERT_SEND_TIMEOUT_S="2",
        PORTAL_ALERT_CLAIM_LEASE_S="4",
        PORTAL_PROBE_CLAIM_LEASE_S=str(LEASE_S),
        PORTAL_PROBE_BATCH_SIZE=str(BATCH_SIZE),
        PORTAL_PROBE_DB_RETRY_DELAY_S="0.2",
    )
    env["DATABASE_URL"] += f"?application_name={WORKER_APP_NAME}"  # only theirs are dropped
    return env


def stop_gracefully(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each main process only (a warm shutdown: the tasks in hand finish; the
    pool's children would die of a SIGTERM of their own), in order; then make sure."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(procs.STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        procs.stop(process)


def _group_pids(pgid: int) -> list[int]:
    """The processes of a process group: a worker and its pool (Linux /proc)."""
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, IndexError, PermissionError):  # it ended meanwhile
            continue
        if int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def _socket_inodes(pids: list[int]) -> set[str]:
    """The inodes of the sockets these processes hold open."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except (FileNotFoundError, PermissionError):
            continue  # it ended meanwhile
    return inodes


def _local_ports(inodes: set[str], *, remote_port: int) -> set[int]:
    """The local ports of the TCP sockets with these inodes connected to ``remote_port``
    (Linux /proc/net/tcp; one local port may serve connections to several servers)."""
    ports = set()
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            columns = line.split()
            remote = int(columns[2].rsplit(":", 1)[1], 16)
            if columns[9] in inodes and remote == remote_port:
                ports.add(int(columns[1].rsplit(":", 1)[1], 16))
    return ports


def worker_mid_request(worker: subprocess.Popen[bytes], customer: LoopbackCustomer) -> bool:
    """Whether one of the worker's processes has a probe request in flight at the customer."""
    assert customer.server is not None
    inodes = _socket_inodes(_group_pids(worker.pid))
    ports = _local_ports(inodes, remote_port=customer.server.port)
    return bool(ports & customer.ports_in_flight())


# --- waiting ------------------------------------------------------------------------------


def alerts_all_sent() -> bool:
    """Every transition has its outbox row, and every row is sent."""
    transitions = HealthTransition.objects.count()
    rows = AlertOutbox.objects.filter(status=AlertStatus.SENT).count()
    return rows == transitions and not AlertOutbox.objects.exclude(status=AlertStatus.SENT).exists()


def all_in_state(endpoints: list[Endpoint], state: str) -> bool:
    ids = [e.pk for e in endpoints]
    return EndpointHealth.objects.filter(pk__in=ids, state=state).count() == len(ids)


def probed_since(endpoints: list[Endpoint], moment: datetime) -> bool:
    """Every endpoint has a probe (not a missed record) of a slot due at or after ``moment``."""
    ids = {e.pk for e in endpoints}
    fresh = ProbeResult.objects.filter(endpoint__in=ids, missed_reason="", due_at__gte=moment)
    return set(fresh.values_list("endpoint", flat=True).distinct()) == ids


def steady(endpoints: list[Endpoint]) -> bool:
    return all_in_state(endpoints, HealthState.HEALTHY)


def flaky(endpoints: list[Endpoint]) -> list[Endpoint]:
    """One endpoint per environment, answered 500 for part of the run."""
    return [e for e in endpoints if e.slug == "op-0"]


@dataclass
class Chaos:
    """One chaos step's run: the fleet, the world, and the window the audit reads."""

    fleet: procs.Fleet
    tmp: Path
    env: dict[str, str]
    customer: LoopbackCustomer
    hook: AlertReceiver
    endpoints: list[Endpoint]
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    beats: list[subprocess.Popen[bytes]] = field(default_factory=list)
    start: datetime | None = None
    restarted: int = 0

    def assert_whole(self, figures: Figures) -> None:
        """No hole, no duplicate, and every health change alerted once: at least every
        endpoint's first probe (unknown -> healthy) and each flaky endpoint's
        healthy -> degraded -> down -> healthy."""
        transitions = len(self.endpoints) + 3 * len(flaky(self.endpoints))
        assert_whole(figures, endpoints=len(self.endpoints), transitions=transitions)

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        self.workers[name] = self.fleet.worker(self.env, self.tmp / f"{name}.log", name)
        return self.workers[name]

    def workers_reconnected(self) -> bool:
        """Every worker connected to the broker a second time, or exited."""
        logs = self.logs()
        return all(
            w.poll() is not None or logs[name].count("Connected to redis") >= 2
            for name, w in self.workers.items()
        )

    def workers_restart_exited(self) -> int:
        """Start a replacement for every worker that exited by itself, as the deployment's
        supervisor does (docker compose: restart unless-stopped); how many there were."""
        exited = [name for name, w in self.workers.items() if w.poll() is not None]
        for name in exited:
            self.worker(f"{name}-restarted")
        self.restarted += len(exited)
        return len(exited)

    def beat(self, name: str) -> subprocess.Popen[bytes]:
        (self.tmp / name).mkdir()
        self.beats.append(self.fleet.beat(self.env, self.tmp / f"{name}.log", self.tmp / name))
        return self.beats[-1]

    def logs(self) -> dict[str, str]:
        return {log.stem: log.read_text(errors="replace") for log in self.tmp.glob("*.log")}

    def steady(self) -> datetime:
        """Wait until every endpoint is probed and healthy; the window starts then, and
        the flaky endpoints start failing. Returns once every endpoint has a probe in the
        window: any slot in flight from then on (when the test strikes) is inside it."""
        wait_until(lambda: steady(self.endpoints), what="every endpoint probed and healthy")
        start = self.start = clock.now()
        self.customer.fail({e.path for e in flaky(self.endpoints)})
        wait_until(lambda: probed_since(self.endpoints, start), what="a probe in the window")
        return start

    def finish(self, *, struck_until: datetime) -> Figures:
        """Let the flaky endpoints go down and recover, run on for the lease and a few
        ticks past the strike, stop the fleet gracefully, and audit the window."""
        assert self.start is not None, "steady() starts the window"
        wait_until(
            lambda: all_in_state(flaky(self.endpoints), HealthState.DOWN),
            what="the flaky endpoints down",
            timeout_s=STEP_WAIT_S,
        )
        self.customer.fail(set())
        wait_until(lambda: steady(self.endpoints), what="all healthy again", timeout_s=STEP_WAIT_S)
        # The window ends two intervals before the run does: running on for the lease and
        # three intervals puts the lease running out and the catch-up inside it.
        resumed = struck_until + timedelta(seconds=LEASE_S + 3 * INTERVAL_S)
        wait_until(
            lambda: probed_since(self.endpoints, resumed),
            what="every endpoint probed again after the lease",
            timeout_s=STEP_WAIT_S,
        )
        wait_until(alerts_all_sent, what="every alert sent", timeout_s=STEP_WAIT_S)
        end = clock.now()
        stop_gracefully([*self.beats, *self.workers.values()])  # no new tick once the workers stop
        window_end = end - timedelta(seconds=2 * INTERVAL_S)
        figures = slots_audit(self.endpoints, start=self.start, end=window_end)
        calls_audit(self.endpoints, self.customer.counts(), figures)
        alerts_audit(self.hook, figures)
        figures.workers_restarted = self.restarted
        return figures
