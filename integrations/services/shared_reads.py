"""One database read shared by the threads of a process that ask for it at the same time.

A thread that asks for a value may take the result of any read that *started* after it
asked: that read saw every write committed before the question, which is all a read of
its own could promise. So when two hundred threads of one worker check the same token's
generation at once, a handful of reads answer them all, and the others open no
database connection at all (the server's connection limit is well below a busy worker's
thread count).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedRead(Generic[T]):
    """Reads of one value: a caller joins a read started after it asked, or starts one."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._started = 0  # reads started, numbered in order
        self._finished = 0  # number of the newest read that finished
        self._running = False
        self._result: T | None = None

    def get(self, read: Callable[[], T], *, defer_s: float = 0.0) -> T:
        """The result of a read that started after this call did; ``read`` may run here.

        ``defer_s``: before running ``read`` itself, wait that long for another caller to
        start one (for a caller whose read would cost more, as a new connection does).
        """
        with self._changed:
            wanted = self._started + 1  # a read already running may predate a write we must see
            while self._finished < wanted and (self._running or defer_s > 0):
                if not self._running:
                    self._changed.wait(defer_s)
                    defer_s = 0.0
                    continue
                self._changed.wait()
            if self._finished >= wanted:
                return self._result  # type: ignore[return-value]
            self._running = True
            self._started += 1
            number = self._started
        return self._lead(read, number)

    def _lead(self, read: Callable[[], T], number: int) -> T:
        try:
            result = read()
        except BaseException:
            with self._changed:
                self._running = False  # a waiter starts the next read itself
                self._changed.notify_all()
            raise
        with self._changed:
            self._running = False
            self._finished, self._result = number, result
            self._changed.notify_all()
        return result
