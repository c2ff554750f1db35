"""Database work retried on a fresh connection when the connection itself fails.

A database restart, a failover or a terminated backend breaks the connection a worker
holds; Django does not reconnect by itself until the next task. Work that is safe to
run again (a read, or a transaction that is idempotent) is retried a bounded number of
times, each attempt on a new connection and in its own transaction.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The errors of a lost or refused connection (and of a lock or statement timeout):
# not the data's fault, so the same work may succeed on the next attempt.
CONNECTION_ERRORS = (OperationalError, InterfaceError)


def db_error_name(error: BaseException) -> str:
    """The error's class and SQLSTATE: enough to diagnose, never a value or a password."""
    state = getattr(error.__cause__, "sqlstate", None)
    return f"{type(error).__name__} (sqlstate {state})" if state else type(error).__name__


def connection_reset() -> None:
    """Drop this thread's connection, broken or not; the next query opens a new one."""
    with contextlib.suppress(DatabaseError):
        connection.close()


def db_retried(work: Callable[[], T], *, what: str) -> T:
    """Run ``work``, again on a fresh connection after a connection error, a few times.

    Inside an outer transaction nothing is retried: the broken transaction belongs to the
    caller, and only the caller can start it again.
    """
    attempts = max(1, settings.PROBE_DB_ATTEMPTS)
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except CONNECTION_ERRORS as error:
            if attempt == attempts or connection.in_atomic_block:
                raise
            delay = settings.PROBE_DB_RETRY_DELAY_S * 2 ** (attempt - 1)
            logger.warning(
                "%s failed (attempt %s of %s, %s); retrying on a fresh connection in %.1f s",
                what,
                attempt,
                attempts,
                db_error_name(error),
                delay,
            )
            connection_reset()
            time.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")
