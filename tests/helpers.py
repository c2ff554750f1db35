"""Helpers shared by tests: scanning stored texts for leaked secrets, waiting, stopping."""

from __future__ import annotations

import contextlib
import multiprocessing.process
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from django.db import connection
from django.utils import timezone

from integrations import clock

T = TypeVar("T")
Process = subprocess.Popen[Any] | multiprocessing.process.BaseProcess

TEXT_TYPES_PG = ("text", "character varying", "json", "jsonb", "character")


def _text_columns() -> Iterator[tuple[str, str]]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND data_type = ANY(%s)",
                [list(TEXT_TYPES_PG)],
            )
            yield from cursor.fetchall()
            return
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in cursor.fetchall():
            cursor.execute(f'PRAGMA table_info("{table}")')
            for column in cursor.fetchall():
                if any(t in column[2].lower() for t in ("char", "text", "json", "clob")):
                    yield table, column[1]


def stored_texts() -> Iterator[tuple[str, str, str]]:
    """Every non-null text value in every table: (table, column, value)."""
    columns = list(_text_columns())
    with connection.cursor() as cursor:
        for table, column in columns:
            qt, qc = connection.ops.quote_name(table), connection.ops.quote_name(column)
            cursor.execute(f"SELECT {qc} FROM {qt} WHERE {qc} IS NOT NULL")
            for (value,) in cursor.fetchall():
                yield table, column, str(value)


def find_leaks(texts: Iterable[str], canaries: Iterable[str]) -> list[str]:
    """The canaries that occur in any of the texts."""
    canary_list = list(canaries)
    found: set[str] = set()
    for text in texts:
        found.update(c for c in canary_list if c in text)
    return sorted(found)


# --- waiting and stopping ------------------------------------------------------------
# A loaded CI machine can be ten times slower than a laptop: tests poll for what they
# wait for up to a generous ceiling instead of sleeping a fixed time, and stop whatever
# they started in a finaliser, so that a failing test still lets the run end promptly.

WAIT_CEILING_S = 120.0
STOP_GRACE_S = 10.0


def wait_until(condition: Callable[[], T], *, what: str, timeout_s: float = WAIT_CEILING_S) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; else fail."""
    deadline = time.monotonic() + timeout_s
    interval = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval)
        interval = min(interval * 2, 0.25)


def threads_together(
    callers: int,
    work: Callable[[Any], T],
    *,
    prepare: Callable[[], Any] = lambda: None,
    go: Callable[[], None] | None = None,
    what: str = "a caller",
) -> list[T]:
    """``callers`` threads run ``work`` at the same moment; returns what each returned.

    Each thread runs ``prepare`` first and hands its result to ``work`` once all are
    ready (``go`` runs then, in one of them). A thread that fails releases the others;
    its error is raised here. Every thread closes its database connections.
    """
    from django.db import connections

    results: list[T] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(callers, action=go, timeout=WAIT_CEILING_S)

    def call() -> None:
        try:
            prepared = prepare()
            barrier.wait()
            results.append(work(prepared))
        except BaseException as error:
            errors.append(error)
            barrier.abort()  # the others stop waiting for a caller that will not come
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call, daemon=True) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread_join(thread, what=what, timeout_s=2 * WAIT_CEILING_S)
    first = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)] or errors
    if first:
        raise first[0]
    return results


def process_stop(process: Process, *, grace_s: float = STOP_GRACE_S, group: bool = False) -> None:
    """Terminate a child (or its process group), kill it after ``grace_s``, and reap it."""
    if _exited(process):
        return
    _signal(process, signal.SIGTERM, group=group)
    if not _reaped(process, grace_s):
        _signal(process, signal.SIGKILL, group=group)
        _reaped(process, grace_s)


def thread_join(thread: threading.Thread, *, what: str, timeout_s: float = STOP_GRACE_S) -> None:
    """Join a thread a test started; fail naming it when it does not end in time."""
    thread.join(timeout_s)
    if thread.is_alive():
        raise AssertionError(f"{what} (thread {thread.name}) still running after {timeout_s:.0f} s")


def _exited(process: Process) -> bool:
    if isinstance(process, subprocess.Popen):
        return process.poll() is not None
    return not process.is_alive()


def _signal(process: Process, sig: signal.Signals, *, group: bool) -> None:
    assert process.pid is not None, "the process was never started"
    try:
        if group:
            os.killpg(process.pid, sig)
        else:
            os.kill(process.pid, sig)
    except ProcessLookupError:
        pass  # it ended between the check and the signal


def _reaped(process: Process, timeout_s: float) -> bool:
    if isinstance(process, subprocess.Popen):
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True
    process.join(timeout_s)
    return process.exitcode is not None


# --- what a test left running ----------------------------------------------------------


def child_pids() -> set[int]:
    """The live child processes of this process (zombies already ended; Linux /proc)."""
    pids: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except FileNotFoundError:  # no /proc here: nothing to check
        return pids
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as listing:
                pids.update(int(pid) for pid in listing.read().split())
        except FileNotFoundError:
            continue  # the thread ended meanwhile
    return {pid for pid in pids if _process_state(pid) not in ("", "Z")}


def process_describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except FileNotFoundError:
        command = "?"
    return f"pid {pid} ({command[:120]})"


def processes_kill(pids: Iterable[int]) -> None:
    """SIGKILL each process, and its process group where it leads one, and wait until gone."""
    pids = list(pids)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: not child_pids() & set(pids),
        what="killed child processes to end",
        timeout_s=STOP_GRACE_S,
    )


def threads_running(*, besides: Iterable[threading.Thread]) -> list[threading.Thread]:
    """Non-daemon threads other than the main thread and ``besides`` that are still alive."""
    known = set(besides) | {threading.main_thread()}
    return [t for t in threading.enumerate() if t not in known and not t.daemon and t.is_alive()]


def threads_describe(threads: Iterable[threading.Thread]) -> str:
    """Where each thread is stuck, threads stuck at the same place told once."""
    frames = sys._current_frames()
    stuck_at: dict[str, list[str]] = {}
    for thread in threads:
        frame = frames.get(thread.ident or -1)
        where = "".join(traceback.format_stack(frame, limit=8)) if frame else "  (no frame)\n"
        stuck_at.setdefault(where, []).append(thread.name)
    return "".join(
        f"{len(names)} thread(s) {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}:\n{where}"
        for where, names in stuck_at.items()
    )


def _process_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return ""


def moving_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """The portal's clock, running at real speed; the returned function moves it ahead."""
    offset = [timedelta(0)]
    monkeypatch.setattr(clock, "now", lambda: timezone.now() + offset[0])

    def ahead(seconds: float) -> None:
        offset[0] += timedelta(seconds=seconds)

    return ahead
