"""Callers of a failing credential get its still-valid token at once, outcome "stale".

The sandbox is told to answer its token endpoint with a 500 after a delay, over a real
socket; the cached token is due for refresh as soon as it is issued (margin = lifetime)
and valid for eight hours, so every call past the first wants a refresh that fails.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from integrations.models import AccessToken, Endpoint, OAuthClient
from integrations.services import tokens
from integrations.services.refresh_now import access_token_refresh_now
from integrations.services.tokens import AuthStepFailed, access_token_get
from tests.helpers import (
    WAIT_CEILING_S,
    moving_clock,
    process_stop,
    thread_join,
    threads_together,
    wait_until,
)

pytestmark = pytest.mark.django_db

FAILURE_LATENCY_S = 0.5  # how long the sandbox takes to fail a token request
CALLERS = 200


@pytest.fixture(autouse=True)
def due_at_once(settings: Any) -> None:
    """Tokens are due for refresh from the moment they are issued, and valid for 8 h."""
    settings.TOKEN_REFRESH_MARGIN_S = 28799
    settings.TOKEN_REFRESH_RATIO = 0.0


def default_refresh_point(settings: Any) -> None:
    """A new token is good for a while again, so a call after a recovery can reuse it."""
    settings.TOKEN_REFRESH_MARGIN_S = 60
    settings.TOKEN_REFRESH_RATIO = 0.8


def token_endpoint_fails(sandbox: Any, *, latency_s: float = FAILURE_LATENCY_S) -> None:
    # A refused client answered "500 server_error" instead of 401, after latency_ms.
    sandbox.set_faults(
        reject=["client"], token_endpoint_lenient="500", latency_ms=int(latency_s * 1000)
    )


def token_endpoint_recovers(sandbox: Any) -> None:
    sandbox.set_faults(reject=[], token_endpoint_lenient=None, latency_ms=0)


def token_requests(sandbox: Any) -> int:
    return int(sandbox.stats()["token_requests"])


@dataclass(frozen=True)
class Answer:
    value: str
    outcome: str
    error_code: str
    wait_s: float


def timed_get(client: OAuthClient, **options: Any) -> Answer:
    started = time.monotonic()
    issued = access_token_get(oauth_client=client, **options)
    step = issued.step
    return Answer(issued.value, step.outcome, step.error_code, time.monotonic() - started)


def burst(client: OAuthClient, callers: int, go: Callable[[], None] | None = None) -> list[Answer]:
    """``callers`` threads of this process ask for the token at once (``go`` releases them)."""
    return threads_together(callers, lambda _: timed_get(client), go=go, what="a token caller")


def waits(answers: list[Answer]) -> str:
    ordered = sorted(a.wait_s for a in answers)
    p50, p99 = ordered[len(ordered) // 2], ordered[int(0.99 * (len(ordered) - 1))]
    return f"max {ordered[-1]:.3f} s, p50 {p50:.3f} s, p99 {p99:.3f} s"


def fetched_then_failing(demo_endpoint: Endpoint, sandbox: Any) -> tuple[OAuthClient, str]:
    client = demo_endpoint.oauth_client
    assert client is not None
    value = access_token_get(oauth_client=client).value
    token_endpoint_fails(sandbox)
    return client, value


# --- one process --------------------------------------------------------------------


def test_callers_of_a_failing_credential_are_answered_from_memory_with_one_read(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    client, old = fetched_then_failing(demo_endpoint, sandbox)
    first = timed_get(client)
    with CaptureQueriesContext(connection) as queries:
        again = timed_get(client)
    assert first.value == again.value == old
    assert first.outcome == again.outcome == "stale"
    row = AccessToken.objects.get(pk=client.pk)
    assert again.error_code == first.error_code == row.last_error_code != ""
    (query,) = [q["sql"] for q in queries.captured_queries]  # the generation, by primary key
    assert '"generation"' in query and '"token"' not in query
    assert again.wait_s < FAILURE_LATENCY_S / 2
    assert token_requests(sandbox) == 2  # the first fetch, one failed refresh


def test_a_token_kept_after_a_failure_is_never_served_to_a_caller_it_was_rejected_for(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    client, old = fetched_then_failing(demo_endpoint, sandbox)
    timed_get(client)
    with CaptureQueriesContext(connection) as queries:
        assert timed_get(client).outcome == "stale"
    assert len(queries.captured_queries) == 1  # answered from the memo
    with pytest.raises(AuthStepFailed) as failure:
        access_token_get(oauth_client=client, rejected=old)
    assert failure.value.step.outcome == "failed"


def test_a_token_kept_after_a_failure_is_never_served_past_its_expiry(
    demo_endpoint: Endpoint, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = moving_clock(monkeypatch)
    client, _ = fetched_then_failing(demo_endpoint, sandbox)
    timed_get(client)
    with CaptureQueriesContext(connection) as queries:
        assert timed_get(client).outcome == "stale"
    assert len(queries.captured_queries) == 1
    ahead(28800)
    with pytest.raises(AuthStepFailed) as failure:
        access_token_get(oauth_client=client)
    assert failure.value.step.outcome == "failed"


def test_a_refresh_elsewhere_reaches_a_token_kept_in_memory_after_a_failure(
    demo_endpoint: Endpoint, sandbox: Any, settings: Any
) -> None:
    client, old = fetched_then_failing(demo_endpoint, sandbox)
    timed_get(client)
    with CaptureQueriesContext(connection) as queries:
        assert timed_get(client).outcome == "stale"
    assert len(queries.captured_queries) == 1
    token_endpoint_recovers(sandbox)
    default_refresh_point(settings)
    held = dict(tokens._memo)  # as if another worker refreshed: it shares the row, not the memo
    new = access_token_refresh_now(oauth_client=client, actor=None).value
    tokens._memo.clear()
    tokens._memo.update(held)
    answer = timed_get(client)
    assert new != old and answer.value == new


@pytest.mark.django_db(transaction=True)
def test_after_the_cool_down_one_caller_retries_while_the_others_keep_the_stale_token(
    demo_endpoint: Endpoint, sandbox: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("two hundred threads need a server database (PostgreSQL)")
    ahead = moving_clock(monkeypatch)
    client, old = fetched_then_failing(demo_endpoint, sandbox)
    assert timed_get(client).outcome == "stale"
    ahead(6)  # past the first failure's cool-down (5 s, +/- 20 % jitter)
    before = token_requests(sandbox)
    answers = burst(client, CALLERS)
    assert {(a.value, a.outcome) for a in answers} == {(old, "stale")}
    assert token_requests(sandbox) - before == 1
    assert max(a.wait_s for a in answers) < 1.5 * FAILURE_LATENCY_S, waits(answers)
    assert AccessToken.objects.get(pk=client.pk).consecutive_failures == 2

    token_endpoint_recovers(sandbox)
    ahead(13)  # past the second failure's cool-down (10 s, +/- 20 % jitter)
    refreshed = timed_get(client)
    assert refreshed.outcome == "fetched" and refreshed.value != old
    default_refresh_point(settings)
    served = timed_get(client)
    assert (served.value, served.outcome, served.error_code) == (refreshed.value, "cache_hit", "")


# --- the row lock held elsewhere ----------------------------------------------------


@contextlib.contextmanager
def row_locked_elsewhere(client: OAuthClient) -> Any:
    """Another connection holds the token row's lock, as a worker refreshing it would."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                AccessToken.objects.select_for_update().get(pk=client.pk)
                held.set()
                release.wait(WAIT_CEILING_S / 4)  # a caller that waits for it fails its timing
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        wait_until(held.is_set, what="the row lock held elsewhere")
        yield
    finally:
        release.set()
        thread_join(holder, what="the row lock holder", timeout_s=WAIT_CEILING_S)


@pytest.mark.django_db(transaction=True)
def test_a_process_without_the_token_in_memory_reads_the_failure_and_skips_the_row_lock(
    demo_endpoint: Endpoint, sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a row lock held by another connection needs PostgreSQL")
    ahead = moving_clock(monkeypatch)
    client, old = fetched_then_failing(demo_endpoint, sandbox)
    timed_get(client)
    before = token_requests(sandbox)
    with row_locked_elsewhere(client):
        tokens.memo_clear()  # a process that never saw the token: the row tells it
        in_cool_down = timed_get(client)
        ahead(6)  # cooled down, but the lock holder is the one retrying
        tokens.memo_clear()
        cooled_down = timed_get(client)
    for answer in (in_cool_down, cooled_down):
        assert (answer.value, answer.outcome) == (old, "stale")
        assert answer.wait_s < FAILURE_LATENCY_S
    assert token_requests(sandbox) == before


# --- several processes --------------------------------------------------------------


def _process_main(client_pk: int, callers: int, start: Any, results: Any) -> None:
    """Two bursts: the first meets the failing refresh, the second knows of it."""
    try:
        client = OAuthClient.objects.select_related("environment__customer").get(pk=client_pk)
        str(client)  # its label reads the customer: once here, not in every caller thread
        connections.close_all()  # each caller thread opens its own, if it needs one

        def go() -> None:  # every process's callers start together
            start.wait(WAIT_CEILING_S)

        first = burst(client, callers, go=go)
        results.put(("ok", first, burst(client, callers)))
    except BaseException as error:
        results.put(("error", repr(error), []))
    finally:
        connections.close_all()


def _collect(results: Any, count: int) -> list[Any]:
    collected: list[Any] = []

    def all_arrived() -> bool:
        with contextlib.suppress(queue.Empty):
            collected.append(results.get(timeout=0.5))
        return len(collected) == count

    wait_until(all_arrived, what=f"the answers of {count} processes")
    return collected


@pytest.mark.django_db(transaction=True)
def test_two_hundred_callers_in_threads_and_processes_get_a_failing_credentials_token_at_once(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("several processes need a shared server database (PostgreSQL)")
    client, old = fetched_then_failing(demo_endpoint, sandbox)
    before = token_requests(sandbox)
    shares = [70, 70, 60]  # two child processes and this one: 200 callers
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    connections.close_all()
    processes = [
        ctx.Process(target=_process_main, args=(client.pk, n, start, results), daemon=True)
        for n in shares[:-1]
    ]
    local = threading.Thread(
        target=_process_main, args=(client.pk, shares[-1], start, results), daemon=True
    )
    try:
        for process in processes:
            process.start()
        local.start()
        start.set()
        outcomes = _collect(results, len(shares))
    finally:
        start.set()  # callers still waiting to start go at once
        for process in processes:
            process_stop(process)
        thread_join(local, what="the in-process callers", timeout_s=3 * WAIT_CEILING_S)

    assert all(kind == "ok" for kind, _, _ in outcomes), outcomes
    first = [answer for _, batch, _ in outcomes for answer in batch]
    second = [answer for _, _, batch in outcomes for answer in batch]
    assert len(first) == len(second) == CALLERS
    assert {(a.value, a.outcome) for a in first + second} == {(old, "stale")}
    assert token_requests(sandbox) - before == 1  # one attempt in the cool-down, all processes
    # Meeting the failing attempt costs about that attempt, not one attempt per caller;
    # once the failure is known, callers are answered without waiting for anyone.
    assert max(a.wait_s for a in first) < 1.5 * FAILURE_LATENCY_S, waits(first)
    assert max(a.wait_s for a in second) < FAILURE_LATENCY_S / 2, waits(second)
