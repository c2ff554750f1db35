"""Fixtures of the tests that run real Celery worker and beat processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.db import connection

from tests.integrations import celery_processes as procs


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    """The test Redis, emptied before and after: worker processes need PostgreSQL too."""
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the database: needs PostgreSQL")
    client = redis.Redis.from_url(procs.REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not reachable at {procs.REDIS_URL}")
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def fleet() -> Iterator[procs.Fleet]:
    """Starts Celery processes; whatever the test did not stop is stopped here."""
    started = procs.Fleet()
    yield started
    started.stop_all()
