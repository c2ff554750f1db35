"""Serving a credential's token: from the memo, from its row, or fetched by one caller.

``access_token_get`` and ``user_session_get`` serve the cached token until its refresh
point (see token_parsing.refresh_due_at) and never past expiry. When a fetch is due,
exactly one caller fetches: callers lock the credential's cache row (SELECT ... FOR
UPDATE on PostgreSQL; on SQLite the IMMEDIATE transaction holds the database write
lock), and whoever gets the lock second finds the fresh token, or the fresh failure.

A failed fetch is recorded on the row and kept in the memo for its cool-down
(services.tokens.cooldown). Meanwhile every caller in every process is answered at
once: with the old token while it is still valid (outcome "stale"), else with the
failure (outcome "failed", nothing sent), a 401's refresh included. Once the cool-down
has passed, one caller per process retries (the memo's lock) and one across processes
(the row lock; with a stale token to serve, SKIP LOCKED, so the others keep it instead
of queuing). A process whose memo misses reads the failure from the row without the lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction

from integrations import clock
from integrations.choices import RefreshOutcome
from integrations.errors import PortalError
from integrations.models import AccessToken, OAuthClient, TestUser, UserSession
from integrations.models.tokens import CachedToken, new_generation
from integrations.outbound import OutboundError
from integrations.services.token_fetch import Fetched, oauth_token_fetch, user_session_fetch
from integrations.services.token_parsing import refresh_due_at
from integrations.services.tokens.cooldown import Failure, recent_failure, row_failure
from integrations.services.tokens.memo import (
    Memo,
    memo_current,
    memo_get,
    memo_lock,
    memo_outcome,
    memo_remember,
    memo_retry_due,
)
from integrations.services.tokens.steps import AuthStep, AuthStepFailed, IssuedToken

StepMaker = Callable[..., AuthStep]
# What a caller gets (a token, or the failure to raise) and what the memo keeps of it.
Answer = tuple[IssuedToken | AuthStepFailed, Memo]


def access_token_get(
    *, oauth_client: OAuthClient, rejected: str | None = None, force: bool = False
) -> IssuedToken:
    """A valid access token for the client; ``rejected`` is a token the API just refused.

    ``force`` fetches a new token even when the cached one is still good (refresh now),
    and even while a failure cools down.
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
    # The last edit in the key: editing the credential (or a test user's customer auth)
    # starts from the database again.
    changed_at = credential.settings_changed_at
    memo_key = (model._meta.label, credential.pk, changed_at)

    def step(outcome: str, **extra: Any) -> AuthStep:
        elapsed = round((time.monotonic() - started) * 1000, 2)
        return AuthStep(step_name, label, outcome, elapsed, **extra)

    seen = memo_get(memo_key)
    if not force and seen is not None and (outcome := memo_outcome(seen, rejected=rejected)):
        if memo_current(seen, model, credential.pk):
            return _from_memo(seen, step(outcome))
    lock = memo_lock(memo_key)
    # Past its cool-down, one caller retries the failing credential; the others go on
    # with the token that is still valid rather than wait for the retry.
    if not lock.acquire(blocking=force or not memo_retry_due(seen, rejected=rejected)):
        if seen is not None and memo_current(seen, model, credential.pk):
            return _from_memo(seen, step("stale"))
        lock.acquire()
    try:
        memo = memo_get(memo_key)
        # Another thread replaced the memo while this one waited: that one is current.
        if not force and memo is not None and memo is not seen:
            if outcome := memo_outcome(memo, rejected=rejected):
                waited = "reused_after_wait" if outcome == "cache_hit" else outcome
                return _from_memo(memo, step(waited))
        answer, memo = _serve_from_database(
            model=model,
            key=key,
            changed_at=changed_at,
            step=step,
            fetch=fetch,
            rejected=rejected,
            force=force,
        )
        memo_remember(memo_key, memo)
    finally:
        lock.release()
    if isinstance(answer, AuthStepFailed):
        raise answer
    return answer


def _from_memo(memo: Memo, step: AuthStep) -> IssuedToken:
    if step.outcome == "failed":
        assert memo.failure is not None
        raise _cooling_down(memo.failure, step)
    assert memo.value is not None and memo.issued_at is not None and memo.expires_at is not None
    step.expires_at = memo.expires_at
    if step.outcome == "stale" and memo.failure is not None:
        step.error_code = memo.failure.code
    return IssuedToken(
        memo.value, memo.issued_at, memo.expires_at, step, memo.cookie_name, memo.generation
    )


def _cooling_down(failure: Failure, step: AuthStep) -> AuthStepFailed:
    """The failure of an attempt moments ago, told to a caller that is not sent again."""
    explained = failure.explained()
    step.error_code, step.error_message = failure.code, explained
    return AuthStepFailed(step=step, cause=PortalError(explained, code=failure.code))


def _serve_from_database(
    *,
    model: type[CachedToken],
    key: dict[str, Any],
    changed_at: datetime | None,
    step: StepMaker,
    fetch: Callable[[], Fetched],
    rejected: str | None,
    force: bool,
) -> Answer:
    row = model._default_manager.filter(**key).first()
    if not force and _usable(row, rejected=rejected):
        return _issued(row, step("cache_hit")), _memo_of(row)  # type: ignore[arg-type]
    failure = None if force else recent_failure(row, changed_at=changed_at)
    if failure is not None:
        # A fetch failed moments ago, maybe in another process: the row says so; no
        # need to queue on the row lock to learn it.
        return _failed_or_stale(row, failure, step, rejected=rejected, force=force)  # type: ignore[arg-type]
    model._default_manager.get_or_create(**key)
    with transaction.atomic():
        # After a failure, the caller holding the lock is retrying: do not wait for it.
        skip = _may_serve_stale(row, rejected=rejected, force=force)
        skip = skip and row.last_outcome == RefreshOutcome.FAILED  # type: ignore[union-attr]
        locked = model._default_manager.select_for_update(skip_locked=skip).filter(**key).first()
        if locked is None:
            return _stale(row, row_failure(row), step)
        # Returned inside the transaction: a failure recorded is committed with it.
        return _serve_locked(
            locked, changed_at=changed_at, step=step, fetch=fetch, rejected=rejected, force=force
        )


def _serve_locked(
    row: CachedToken,
    *,
    changed_at: datetime | None,
    step: StepMaker,
    fetch: Callable[[], Fetched],
    rejected: str | None,
    force: bool,
) -> Answer:
    """Holding the row lock: the token another caller just stored, its failure, or a fetch."""
    if not force and _usable(row, rejected=rejected):
        return _issued(row, step("reused_after_wait")), _memo_of(row)
    failure = None if force else recent_failure(row, changed_at=changed_at)
    if failure is not None:
        return _failed_or_stale(row, failure, step, rejected=rejected, force=force)
    try:
        fetched = fetch()
    except (OutboundError, PortalError) as error:
        _record_failure(row, error)
        return _fetch_failed(row, error, step, rejected=rejected, force=force)
    _record_success(row, fetched)
    outcome = "refreshed_after_401" if rejected else "fetched"
    issued = _issued(row, step(outcome, exchange=fetched.exchange, warnings=fetched.warnings))
    return issued, _memo_of(row)


def _fetch_failed(
    row: CachedToken, error: Exception, step: StepMaker, *, rejected: str | None, force: bool
) -> Answer:
    """This caller's fetch failed: a token that is still valid (inside its refresh margin,
    not expired) is served meanwhile; not to a forced refresh, whose caller asked to see
    the fetch's outcome, nor to a caller the customer just refused it to."""
    failure = row_failure(row)
    if _may_serve_stale(row, rejected=rejected, force=force):
        return _stale(row, failure, step)
    failed = step(
        "failed",
        exchange=getattr(error, "exchange", None),
        error_code=getattr(error, "code", "auth_failed"),
        error_message=getattr(error, "message", str(error)),
    )
    return AuthStepFailed(step=failed, cause=error), _memo_of(row, failure)


def _failed_or_stale(
    row: CachedToken, failure: Failure, step: StepMaker, *, rejected: str | None, force: bool
) -> Answer:
    if _may_serve_stale(row, rejected=rejected, force=force):
        return _stale(row, failure, step)
    return _cooling_down(failure, step("failed")), _memo_of(row, failure)


def _stale(row: Any, failure: Failure | None, step: StepMaker) -> Answer:
    code = failure.code if failure else (row.last_error_code or "auth_failed")
    return _issued(row, step("stale", error_code=code)), _memo_of(row, failure)


def _usable(row: CachedToken | None, *, rejected: str | None) -> bool:
    if row is None or row.token is None or row.expires_at is None or row.issued_at is None:
        return False
    if clock.now() >= refresh_due_at(issued_at=row.issued_at, expires_at=row.expires_at):
        return False
    return rejected is None or row.token.reveal() != rejected


def _unexpired(row: CachedToken | None) -> bool:
    if row is None or row.token is None or row.expires_at is None:
        return False
    return clock.now() < row.expires_at


def _may_serve_stale(row: CachedToken | None, *, rejected: str | None, force: bool) -> bool:
    return not force and rejected is None and _unexpired(row)


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


def _memo_of(row: Any, failure: Failure | None = None) -> Memo:
    """What the memo keeps of the row: its token while unexpired, and its failure."""
    value = row.token.reveal() if _unexpired(row) else None
    cookie_name = getattr(row, "cookie_name", "")
    return Memo(value, row.issued_at, row.expires_at, cookie_name, row.generation, failure)


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
