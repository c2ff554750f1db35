"""Shared fixtures: the bundled sandbox customer API on a real socket, and demo config.

Every test must stop the threads and processes it starts, failure or not: a child left
holding the test database, or a non-daemon thread left waiting, kept a failing CI run
from ever exiting. ``_nothing_left_running`` fails the test that leaves one and ends it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.models import Endpoint
from tests import helpers

# How long a leftover thread or process gets to end by itself (tests/test_run_ends.py sets it).
LEFTOVER_GRACE_S = float(os.environ.get("PORTAL_TEST_LEFTOVER_GRACE_S", "10"))
exit_status = pytest.StashKey[int]()


@pytest.fixture(autouse=True)
def _fresh_token_memo() -> Iterator[None]:
    """Each test starts with no token held in process memory (rows roll back between tests)."""
    from integrations.services.tokens import memo_clear

    memo_clear()
    yield
    memo_clear()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test starts with an empty cache (login throttle counters live there)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Any]:
    """One sandbox server for the whole run, on a free port."""
    from sandbox.server import start_sandbox

    running = start_sandbox(host="127.0.0.1", port=0)
    yield running
    running.stop()


@pytest.fixture
def sandbox(sandbox_server: Any, settings: Any) -> Iterator[Any]:
    """The sandbox, reset, and allow-listed for the outbound edge for this test."""
    sandbox_server.reset()
    settings.OUTBOUND_ALLOWLIST = [f"127.0.0.1:{sandbox_server.port}"]
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def demo_endpoint(sandbox: Any, db: None) -> Endpoint:
    """The guide's getprofile endpoint of a customer whose UAT environment is the sandbox."""
    from integrations.services.demo import demo_customer_ensure

    customer = demo_customer_ensure(sandbox_url=sandbox.url)
    return Endpoint.objects.select_related(
        "environment", "oauth_client", "customer_auth", "api_key", "default_test_user"
    ).get(environment__customer=customer, slug="getprofile")


# --- nothing left running -------------------------------------------------------


@pytest.fixture(autouse=True)
def _nothing_left_running() -> Iterator[None]:
    """Fail a test that leaves a process or non-daemon thread behind, and kill the process."""
    threads_before = set(threading.enumerate())
    children_before = helpers.child_pids()
    yield
    problems = []
    children = _children_left(children_before)
    if children:
        problems.append("child processes: " + ", ".join(map(helpers.process_describe, children)))
        helpers.processes_kill(children)
    threads = _threads_left(threads_before)
    if threads:
        problems.append("threads:\n" + helpers.threads_describe(threads))
    if problems:
        pytest.fail("the test left running (stop them in a finaliser) " + "; ".join(problems))


def _children_left(before: set[int]) -> set[int]:
    """Child processes the test started that do not end within the grace."""
    try:
        helpers.wait_until(
            lambda: not helpers.child_pids() - before,
            what="the test's child processes to end",
            timeout_s=LEFTOVER_GRACE_S,
        )
    except AssertionError:
        return helpers.child_pids() - before
    return set()


def _threads_left(before: set[threading.Thread]) -> list[threading.Thread]:
    """Non-daemon threads the test started that do not end within the grace."""
    threads = helpers.threads_running(besides=before)
    for thread in threads:
        thread.join(LEFTOVER_GRACE_S / max(len(threads), 1))
    return [thread for thread in threads if thread.is_alive()]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[exit_status] = exitstatus


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Last resort once the summary is out: never hang at exit on what no test stopped."""
    children = helpers.child_pids()
    if children:
        _warn(
            "killing child processes still running: "
            + ", ".join(map(helpers.process_describe, children))
            + "\n"
        )
        helpers.processes_kill(children)
    stuck = _threads_left(set())
    if stuck:
        _warn("exiting past threads still running:\n" + helpers.threads_describe(stuck))
        sys.stdout.flush()
        os._exit(config.stash.get(exit_status, 1) or 1)


def _warn(text: str) -> None:
    sys.stderr.write(f"pytest: {text}")
    sys.stderr.flush()
