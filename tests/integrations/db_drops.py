"""Dropping a process's PostgreSQL connections the way a restart or a failover does.

A side connection (plain psycopg, not Django's, so it is never the one dropped) runs
``pg_terminate_backend`` on the chosen backends and waits until they are gone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection

from tests.helpers import wait_until

# The workers a test starts connect under this name, so only theirs are dropped.
WORKER_APP_NAME = "probe-worker-under-test"

GONE_SQL = "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)"
MATCHING_SQL = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND pid <> pg_backend_pid() AND (pid = ANY(%s) OR application_name = %s)"
)


def side_connection() -> psycopg.Connection[Any]:
    """A new autocommit connection to the test database, outside Django."""
    s = connection.settings_dict
    return psycopg.connect(
        host=s.get("HOST") or "127.0.0.1",
        port=s.get("PORT") or 5432,
        user=s.get("USER") or "postgres",
        password=s.get("PASSWORD") or None,
        dbname=s["NAME"],
        autocommit=True,
    )


def django_backend_pid() -> int:
    """The server process behind this thread's Django connection (opened if need be)."""
    connection.ensure_connection()
    assert connection.connection is not None
    return int(connection.connection.info.backend_pid)


def backends_terminate(
    side: psycopg.Connection[Any], *, pids: list[int] | None = None, app_name: str = ""
) -> list[int]:
    """Terminate the backends with these pids or this application name; wait until gone."""
    with side.cursor() as cursor:
        cursor.execute(MATCHING_SQL, [pids or [], app_name or None])
        victims = [pid for (pid,) in cursor.fetchall()]
        for pid in victims:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    wait_until(lambda: _gone(side, victims), what="the terminated backends to exit", timeout_s=10)
    return victims


def _gone(side: psycopg.Connection[Any], pids: list[int]) -> bool:
    with side.cursor() as cursor:
        cursor.execute(GONE_SQL, [pids])
        row = cursor.fetchone()
    return row is not None and row[0] == 0


class Dropper:
    """Drops the workers' connections between ``start`` and ``stop``: on a timer, at most
    once per ``min_gap_s``, and whenever asked while a call is in flight (an upstream being
    called), whatever the timer did just before; a timer in step with the batches would
    otherwise skip every in-flight drop and only ever hit idle connections."""

    def __init__(self, *, app_name: str, every_s: float = 1.0, min_gap_s: float = 0.5) -> None:
        self.app_name, self.every_s, self.min_gap_s = app_name, every_s, min_gap_s
        self.rounds = 0  # drops that found a connection of the workers to drop
        self.in_flight_rounds = 0  # of those, drops asked for while a call was in flight
        self._lock = threading.Lock()
        self._last = 0.0
        self._active = threading.Event()
        self._stopping = threading.Event()
        self._side = side_connection()
        self._timer = threading.Thread(target=self._tick, name="db-dropper", daemon=True)

    def drop(self, *, in_flight: bool = False) -> None:
        """Drop them now; a timer drop only if none came less than ``min_gap_s`` ago."""
        with self._lock:
            if not self._active.is_set():
                return
            if not in_flight and time.monotonic() - self._last < self.min_gap_s:
                return
            self._last = time.monotonic()
            if backends_terminate(self._side, app_name=self.app_name):
                self.rounds += 1
                self.in_flight_rounds += in_flight

    def _tick(self) -> None:
        while not self._stopping.wait(self.every_s):
            self.drop()

    @contextmanager
    def dropping(self) -> Iterator[None]:
        """Drop connections for the length of the block."""
        self._active.set()
        try:
            yield
        finally:
            self._active.clear()

    def __enter__(self) -> Dropper:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._timer.join(10)
        with self._lock:
            self._side.close()
