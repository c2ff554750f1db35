"""Real Celery worker and beat processes for tests, on Redis and the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from tests.helpers import process_stop

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# A warm shutdown finishes the task in hand; a loaded machine may need this long.
STOP_GRACE_S = 30.0


def database_url() -> str:
    """The URL of the test database this process uses, for the child processes."""
    s = connection.settings_dict
    host, port = s.get("HOST") or "127.0.0.1", s.get("PORT") or 5432
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s.get('USER') or 'postgres'}{password}@{host}:{port}/{s['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": REDIS_URL,
        "PORTAL_PROBE_DISPATCH_EVERY_S": "1",
        "PORTAL_TOKEN_REFRESH_EVERY_S": "1",
        "PORTAL_ALERT_DELIVER_EVERY_S": "1",
    }
    env.update(overrides)
    return env


class Fleet:
    """The Celery processes of one test; ``stop_all`` (the fixture's teardown) stops them all.

    A process is tracked from the moment it starts, so one started outside a ``running``
    block, or before a failing wait, is still stopped: a worker left behind keeps its
    connections to the test database and probes long after its test.
    """

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as handle:
            process = subprocess.Popen(
                [CELERY, "-A", "portal", *args],
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # stopped as a group: the pool's children too
            )
        self.processes.append(process)
        return process

    def worker(
        self, env: dict[str, str], log: Path, name: str, concurrency: int = 2
    ) -> subprocess.Popen[bytes]:
        return self.start(
            [
                "worker",
                "--loglevel=INFO",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                f"--hostname={name}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            env,
            log,
        )

    def beat(self, env: dict[str, str], log: Path, tmp: Path) -> subprocess.Popen[bytes]:
        return self.start(
            [
                "beat",
                "--loglevel=INFO",
                f"--schedule={tmp / 'beat-schedule'}",
                f"--pidfile={tmp / 'beat.pid'}",
            ],
            env,
            log,
        )

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop a process and its pool: ``sig`` first, then SIGTERM, SIGKILL after the grace."""
    if sig != signal.SIGTERM and process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
    process_stop(process, grace_s=STOP_GRACE_S, group=True)


@contextmanager
def running(*processes: subprocess.Popen[bytes]) -> Iterator[tuple[subprocess.Popen[bytes], ...]]:
    """Stop the processes when the block ends, failure or not."""
    try:
        yield processes
    finally:
        for process in processes:
            stop(process)
