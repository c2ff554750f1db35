"""Wall-clock deadlines for outbound calls.

requests' read timeout bounds each ``recv`` separately, so a server dripping one
byte a second never trips it. Instead each call registers the connections it uses
with a ``CallWatch``; one shared reaper thread shuts those sockets down when the
call's deadline passes, which makes the blocked read return at once. One thread
for all calls, rather than a Timer thread per call, keeps probes cheap.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class CallWatch:
    """The deadline of one call and the connections to cut when it passes."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline  # time.monotonic() value
        self.fired = False
        self._finished = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def watch(self, connection: Any) -> None:
        with self._lock:
            if self.fired:
                _shutdown(connection)
            elif not any(c is connection for c in self._connections):
                self._connections.append(connection)

    def fire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.fired = True
            for connection in self._connections:
                _shutdown(connection)

    def finish(self) -> None:
        """The call is over: later firing must not touch connections back in the pool."""
        with self._lock:
            self._finished = True
            self._connections.clear()


def _shutdown(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    try:
        # socket.socket.shutdown, not SSLSocket.shutdown: we cut the TCP stream under
        # the TLS layer without touching TLS state another thread is reading through.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the peer or by the call itself


class _Reaper:
    """One daemon thread firing watches whose deadline has passed."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, CallWatch]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def schedule(self, watch: CallWatch) -> None:
        with self._condition:
            heapq.heappush(self._heap, (watch.deadline, next(self._counter), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="outbound-reaper")
                self._thread.daemon = True
                self._thread.start()
            self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                due = self._pop_due()
            if due is not None:
                due.fire()

    def _pop_due(self) -> CallWatch | None:
        if not self._heap:
            self._condition.wait()
            return None
        delay = self._heap[0][0] - time.monotonic()
        if delay > 0:
            self._condition.wait(delay)
            return None
        return heapq.heappop(self._heap)[2]


_reaper = _Reaper()
_current = threading.local()


def _reset_after_fork() -> None:
    # A forked worker (Celery prefork) inherits the parent's lock state but not its thread.
    global _reaper, _current
    _reaper = _Reaper()
    _current = threading.local()


os.register_at_fork(after_in_child=_reset_after_fork)


@contextmanager
def watching(deadline: float) -> Iterator[CallWatch]:
    """Run the body under ``deadline``; connections registered meanwhile are cut at it."""
    watch = CallWatch(deadline)
    _current.watch = watch
    _reaper.schedule(watch)
    try:
        yield watch
    finally:
        watch.finish()
        _current.watch = None


def register(connection: Any) -> None:
    """Put ``connection`` under the deadline of the call running in this thread, if any."""
    watch: CallWatch | None = getattr(_current, "watch", None)
    if watch is not None:
        watch.watch(connection)
