"""Token broker: a valid access token or user session from cache, fetched once when due.

``access_token_get`` and ``user_session_get`` serve the cached token until its refresh
point (see token_parsing.refresh_due_at) and never past expiry. When a fetch is due,
exactly one caller fetches: callers lock the credential's cache row (SELECT ... FOR
UPDATE on PostgreSQL; on SQLite the IMMEDIATE transaction holds the database write
lock), and whoever gets the lock second finds the fresh token and reuses it.

In front of the database sits a small per-process memo: threads of one process that
ask for the same credential read the token from memory, and only one of them at a
time goes to the database when the memo is stale. Every memo hit is checked against
the row's ``generation``, which changes whenever a token is replaced (fetch, refresh
now, refresh after a 401) or its row deleted: a token the portal has replaced is never
sent again, by any process. The check is one read by primary key; a probe batch reads
the generations of all its credentials in one query (token_generations_prefetch).

A credential whose refresh keeps failing is answered from the memo too: while its
token is still valid (past the refresh point, before expiry) and the failure is within
its cool-down (failure_cooldown_s), every caller gets that token at once, outcome
"stale", after the same generation check; once the cool-down has passed, one caller
per process retries (a try-lock on the memo) and one across processes (SKIP LOCKED on
the row), and the others keep the stale token meanwhile instead of queuing on the row
lock. A process whose memo misses reads the failure from the row without the lock.

Why the database and not a cache key or a broadcast: it is the one store every process
shares in both deployments. Embedded mode runs SQLite with a per-process locmem cache,
so a cache key bumped by one process is never seen by another; production has Redis,
but a broadcast would still miss a worker that was busy or restarting when it was sent.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction

from integrations import clock
from integrations.choices import RefreshOutcome
from integrations.errors import PortalError
from integrations.models import AccessToken, OAuthClient, TestUser, UserSession
from integrations.models.tokens import CachedToken, new_generation
from integrations.outbound import Exchange, OutboundError
from integrations.services.shared_reads import SharedRead
from integrations.services.token_fetch import Fetched, oauth_token_fetch, user_session_fetch
from integrations.services.token_parsing import refresh_due_at


@dataclass
class AuthStep:
    """One authentication step of a call, as shown to a solution engineer."""

    name: str  # "oauth_token" or "customer_auth"
    credential: str
    outcome: str  # cache_hit | fetched | reused_after_wait | refreshed_after_401 | stale | failed
    duration_ms: float
    expires_at: datetime | None = None
    exchange: Exchange | None = None
    error_code: str = ""
    error_message: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class IssuedToken:
    value: str
    issued_at: datetime
    expires_at: datetime
    step: AuthStep
    cookie_name: str = ""
    generation: int | None = None  # of the token row it came from


@dataclass(frozen=True)
class _Failure:
    """A credential's last failed refresh, as its row records it."""

    code: str
    at: datetime
    cooldown_s: float

    def cooling(self) -> bool:
        """Whether the failure is too recent to try again."""
        return (clock.now() - self.at).total_seconds() < self.cooldown_s


@dataclass(frozen=True)
class _Memo:
    value: str
    issued_at: datetime
    expires_at: datetime
    cookie_name: str
    generation: int | None
    failure: _Failure | None = None  # set when the token is kept because a refresh failed


_memo: dict[tuple[Any, ...], _Memo] = {}
_memo_locks: dict[tuple[Any, ...], threading.Lock] = {}
_generation_reads: dict[tuple[str, Any], SharedRead[int | None]] = {}
_memo_guard = threading.Lock()
# Generations read once for a probe batch, by (model label, credential pk); this thread only.
_prefetched = threading.local()


def memo_clear() -> None:
    """Forget every token this process holds in memory (tests, and after a fork)."""
    global _memo_guard
    _memo.clear()
    _memo_locks.clear()
    _generation_reads.clear()
    _memo_guard = threading.Lock()
    _prefetched.__dict__.clear()


# A forked worker must not inherit a lock another thread of the parent held.
os.register_at_fork(after_in_child=memo_clear)


def _memo_lock(key: tuple[Any, ...]) -> threading.Lock:
    with _memo_guard:
        return _memo_locks.setdefault(key, threading.Lock())


def _memo_usable(memo: _Memo | None, *, rejected: str | None) -> bool:
    if memo is None:
        return False
    if clock.now() >= refresh_due_at(issued_at=memo.issued_at, expires_at=memo.expires_at):
        return False
    return rejected is None or memo.value != rejected


def _memo_stale(memo: _Memo | None, *, rejected: str | None) -> bool:
    """Whether the memo holds a token kept after a failed refresh that may still be sent:
    not past expiry, and not to a caller whose call the customer just refused."""
    if memo is None or memo.failure is None or rejected is not None:
        return False
    return clock.now() < memo.expires_at


def _memo_current(memo: _Memo, model: type[CachedToken], pk: Any) -> bool:
    """Whether the row still holds the memoised token: nobody refreshed or deleted it."""
    return memo.generation is not None and memo.generation == _generation(model, pk)


def _generation(model: type[CachedToken], pk: Any) -> int | None:
    prefetched = getattr(_prefetched, "generations", None)
    if prefetched is not None and (model._meta.label, pk) in prefetched:
        return prefetched[(model._meta.label, pk)]
    if connection.in_atomic_block:
        # This thread's transaction may see a generation other threads do not.
        return _generation_read(model, pk)
    with _memo_guard:
        shared = _generation_reads.setdefault((model._meta.label, pk), SharedRead())
    # A thread with no connection yet leaves the read to one that has one, if one comes
    # within a millisecond: opening a connection per thread would exhaust the server's.
    defer_s = 0.001 if connection.connection is None else 0.0
    return shared.get(lambda: _generation_read(model, pk), defer_s=defer_s)


def _generation_read(model: type[CachedToken], pk: Any) -> int | None:
    # Plain SQL: this runs on every memo hit, and building the ORM query cost about
    # fifteen times the primary-key read itself (1.5 ms against 0.09 ms on SQLite).
    table, key = model._meta.db_table, model._meta.pk.column or "id"
    quote = connection.ops.quote_name
    where = f"WHERE {quote(key)} = %s"
    sql = f"SELECT {quote('generation')} FROM {quote(table)} {where}"  # noqa: S608 (identifiers only)
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


@contextmanager
def token_generations_prefetch(
    *, oauth_client_ids: Iterable[Any], test_user_ids: Iterable[Any]
) -> Iterator[None]:
    """Within the block, this thread checks memoised tokens of these credentials against
    generations read here in one query, instead of one query per call.

    For a probe batch's preparation: a refresh committed after the read is seen by the
    next batch, as it would be by a call already past its own check.
    """
    wanted = {AccessToken: set(oauth_client_ids) - {None}, UserSession: set(test_user_ids) - {None}}
    generations: dict[tuple[str, Any], int | None] = {
        (model._meta.label, pk): None for model, ids in wanted.items() for pk in ids
    }
    queries = [
        model._default_manager.filter(pk__in=ids)
        .annotate(table=models.Value(model._meta.label))
        .values_list("table", "pk", "generation")
        for model, ids in wanted.items()
        if ids
    ]
    if queries:
        rows = queries[0].union(*queries[1:], all=True) if len(queries) > 1 else queries[0]
        generations.update({(label, pk): generation for label, pk, generation in rows})
    previous = getattr(_prefetched, "generations", None)
    _prefetched.generations = generations
    try:
        yield
    finally:
        _prefetched.generations = previous


def _from_memo(memo: _Memo, step: AuthStep) -> IssuedToken:
    step.expires_at = memo.expires_at
    if step.outcome == "stale" and memo.failure is not None:
        step.error_code = memo.failure.code
    return IssuedToken(
        memo.value, memo.issued_at, memo.expires_at, step, memo.cookie_name, memo.generation
    )


def _remember(key: tuple[Any, ...], issued: IssuedToken, failure: _Failure | None) -> None:
    _memo[key] = _Memo(
        issued.value,
        issued.issued_at,
        issued.expires_at,
        issued.cookie_name,
        issued.generation,
        failure,
    )
    prefetched = getattr(_prefetched, "generations", None)
    if prefetched is not None and key[:2] in prefetched:
        prefetched[key[:2]] = issued.generation  # this thread just read or wrote the row


class AuthStepFailed(PortalError):
    """An authentication step failed; ``step`` says which, ``cause`` why."""

    def __init__(self, *, step: AuthStep, cause: Exception) -> None:
        message = getattr(cause, "message", str(cause))
        super().__init__(f"{step.name} for {step.credential} failed: {message}")
        self.code = getattr(cause, "code", "auth_failed")
        self.step = step
        self.cause = cause


def access_token_get(
    *, oauth_client: OAuthClient, rejected: str | None = None, force: bool = False
) -> IssuedToken:
    """A valid access token for the client; ``rejected`` is a token the API just refused.

    ``force`` fetches a new token even when the cached one is still good (refresh now).
    """
    return _serve(
        model=AccessToken,
        credential=oauth_client,
        key={"oauth_client": oauth_client},
        step_name="oauth_token",
        fetch=lambda: oauth_token_fetch(oauth_client=oauth_client),
        rejected=rejected,
        force=force,
    )


def user_session_get(
    *, test_user: TestUser, rejected: str | None = None, force: bool = False
) -> IssuedToken:
    """A valid customer identifier (JWT or session cookie) for the test user."""
    return _serve(
        model=UserSession,
        credential=test_user,
        key={"test_user": test_user},
        step_name="customer_auth",
        fetch=lambda: user_session_fetch(test_user=test_user),
        rejected=rejected,
        force=force,
    )


def _usable(row: CachedToken | None, *, rejected: str | None, now: datetime) -> bool:
    if row is None or row.token is None or row.expires_at is None or row.issued_at is None:
        return False
    if now >= refresh_due_at(issued_at=row.issued_at, expires_at=row.expires_at):
        return False
    return rejected is None or row.token.reveal() != rejected


def _issued(row: Any, step: AuthStep) -> IssuedToken:
    step.expires_at = row.expires_at
    return IssuedToken(
        value=row.token.reveal(),
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        step=step,
        cookie_name=getattr(row, "cookie_name", ""),
        generation=row.generation,
    )


def _serve(
    *,
    model: type[CachedToken],
    credential: Any,
    key: dict[str, Any],
    step_name: str,
    fetch: Callable[[], Fetched],
    rejected: str | None,
    force: bool = False,
) -> IssuedToken:
    started = time.monotonic()
    label = str(credential)
    # updated_at in the key: editing the credential starts from the database again.
    memo_key = (model._meta.label, credential.pk, credential.updated_at)

    def step(outcome: str) -> AuthStep:
        return AuthStep(step_name, label, outcome, round((time.monotonic() - started) * 1000, 2))

    seen = _memo.get(memo_key)
    if not force and (outcome := _memo_outcome(seen, rejected=rejected)):
        if _memo_current(seen, model, credential.pk):  # type: ignore[arg-type]
            return _from_memo(seen, step(outcome))  # type: ignore[arg-type]
    lock = _memo_lock(memo_key)
    # Past its cool-down, one caller retries the failing credential; the others go on
    # with the token that is still valid rather than wait for the retry.
    if not lock.acquire(blocking=force or not _retry_due(seen, rejected=rejected)):
        if _memo_current(seen, model, credential.pk):  # type: ignore[arg-type]
            return _from_memo(seen, step("stale"))  # type: ignore[arg-type]
        lock.acquire()
    try:
        memo = _memo.get(memo_key)
        # Another thread replaced the memo while this one waited: that one is current.
        if not force and memo is not seen and (outcome := _memo_outcome(memo, rejected=rejected)):
            waited = "reused_after_wait" if outcome == "cache_hit" else outcome
            return _from_memo(memo, step(waited))  # type: ignore[arg-type]
        issued, failure = _serve_from_database(
            model=model,
            key=key,
            step_name=step_name,
            credential=label,
            fetch=fetch,
            rejected=rejected,
            started=started,
            force=force,
        )
        _remember(memo_key, issued, failure)
        return issued
    finally:
        lock.release()


def _memo_outcome(memo: _Memo | None, *, rejected: str | None) -> str:
    """How the memo may answer without the database: cache_hit, stale, or not at all ("")."""
    if _memo_usable(memo, rejected=rejected):
        return "cache_hit"
    if _memo_stale(memo, rejected=rejected) and memo.failure.cooling():  # type: ignore[union-attr]
        return "stale"
    return ""


def _retry_due(memo: _Memo | None, *, rejected: str | None) -> bool:
    """Whether a token kept after a failed refresh is past the failure's cool-down."""
    return _memo_stale(memo, rejected=rejected) and not memo.failure.cooling()  # type: ignore[union-attr]


def _serve_from_database(
    *,
    model: type[CachedToken],
    key: dict[str, Any],
    step_name: str,
    credential: str,
    fetch: Callable[[], Fetched],
    rejected: str | None,
    started: float,
    force: bool = False,
) -> tuple[IssuedToken, _Failure | None]:
    """The token, and the failure it is kept despite (outcome "stale"), else None."""

    def step(outcome: str, **extra: Any) -> AuthStep:
        elapsed = (time.monotonic() - started) * 1000
        return AuthStep(step_name, credential, outcome, round(elapsed, 2), **extra)

    row = model._default_manager.filter(**key).first()
    if not force and _usable(row, rejected=rejected, now=clock.now()):
        return _issued(row, step("cache_hit")), None
    may_be_stale = not force and rejected is None and _unexpired(row)
    if may_be_stale and _recent_failure(row) is not None:  # type: ignore[arg-type]
        # A refresh failed moments ago, maybe in another process: the row says so,
        # and the token is still valid; no need to queue on the row lock to learn it.
        return _stale(row, step)
    model._default_manager.get_or_create(**key)
    with transaction.atomic():
        # After a failure, the caller holding the lock is retrying: do not wait for it.
        skip = may_be_stale and row.last_outcome == RefreshOutcome.FAILED  # type: ignore[union-attr]
        locked = model._default_manager.select_for_update(skip_locked=skip).filter(**key).first()
        if locked is None:
            return _stale(row, step)
        row = locked
        if not force and _usable(row, rejected=rejected, now=clock.now()):
            return _issued(row, step("reused_after_wait")), None
        failure: Exception | None = None
        if not force and rejected is None:
            failure = _recent_failure(row)
        if failure is None:
            try:
                fetched = fetch()
            except (OutboundError, PortalError) as error:
                _record_failure(row, error)
                failure = error
            else:
                _record_success(row, fetched)
                outcome = "refreshed_after_401" if rejected else "fetched"
                extra = {"exchange": fetched.exchange, "warnings": fetched.warnings}
                return _issued(row, step(outcome, **extra)), None
    # The failure is committed above so the credential shows it; a token that is
    # still valid (inside its refresh margin, not expired) is served meanwhile;
    # not to a forced refresh, whose caller asked to see the fetch's outcome.
    if rejected is None and not force and _unexpired(row):
        return _stale(row, step)
    failed = step(
        "failed",
        exchange=getattr(failure, "exchange", None),
        error_code=getattr(failure, "code", "auth_failed"),
        error_message=getattr(failure, "message", str(failure)),
    )
    raise AuthStepFailed(step=failed, cause=failure)


def _unexpired(row: CachedToken | None) -> bool:
    if row is None or row.token is None or row.expires_at is None:
        return False
    return clock.now() < row.expires_at


def _stale(row: Any, step: Callable[..., AuthStep]) -> tuple[IssuedToken, _Failure]:
    failure = _Failure(
        code=row.last_error_code or "auth_failed",
        at=row.last_error_at or clock.now(),
        cooldown_s=failure_cooldown_s(row.consecutive_failures),
    )
    return _issued(row, step("stale", error_code=failure.code)), failure


def failure_cooldown_s(consecutive_failures: int) -> float:
    """How long a failed fetch is not repeated for other callers: 5 s, doubling, at most 5 min."""
    return float(min(5 * 2 ** max(0, consecutive_failures - 1), 300))


def _recent_failure(row: CachedToken) -> PortalError | None:
    """The last failure again, when it is recent: a broken credential is not hammered.

    Without this, every endpoint sharing a credential would repeat the same failing
    token request in every probe batch.
    """
    if row.last_outcome != RefreshOutcome.FAILED or row.last_error_at is None:
        return None
    age = (clock.now() - row.last_error_at).total_seconds()
    cooldown = failure_cooldown_s(row.consecutive_failures)
    if age >= cooldown:
        return None
    return PortalError(
        f"{row.last_error_message} (failed {age:.0f} s ago; next attempt after {cooldown:.0f} s)",
        code=row.last_error_code or "auth_failed",
    )


def _record_success(row: CachedToken, fetched: Fetched) -> None:
    now = clock.now()
    row.token = fetched.value
    row.issued_at = fetched.issued_at
    row.expires_at = fetched.expires_at
    row.fetched_at = now
    row.last_outcome = RefreshOutcome.OK
    row.last_error_code = ""
    row.last_error_message = ""
    row.consecutive_failures = 0
    row.next_refresh_at = refresh_due_at(issued_at=fetched.issued_at, expires_at=fetched.expires_at)
    row.generation = new_generation()  # every process's memo of the old token is now stale
    for name, value in fetched.extra.items():
        setattr(row, name, value)
    row.save()


def _record_failure(row: CachedToken, error: Exception) -> None:
    row.last_outcome = RefreshOutcome.FAILED
    row.last_error_code = getattr(error, "code", "error")[:100]
    row.last_error_message = getattr(error, "message", str(error))[:2000]
    row.last_error_at = clock.now()
    row.consecutive_failures += 1
    row.save(
        update_fields=[
            "last_outcome",
            "last_error_code",
            "last_error_message",
            "last_error_at",
            "consecutive_failures",
        ]
    )
