"""Token broker: a valid access token or user session from cache, fetched once when due.

- broker: ``access_token_get`` / ``user_session_get``, single flight on the token row;
- memo: the per-process memo in front of the rows, checked against their generation;
- cooldown: how long a failed fetch is shared with every caller instead of repeated;
- steps: the token and auth step handed back, and ``AuthStepFailed``.

Why the database and not a cache key or a broadcast: it is the one store every process
shares in both deployments. Embedded mode runs SQLite with a per-process locmem cache,
so a cache key bumped by one process is never seen by another; production has Redis,
but a broadcast would still miss a worker that was busy or restarting when it was sent.
"""

from integrations.services.tokens.broker import access_token_get, user_session_get
from integrations.services.tokens.cooldown import failure_cooldown_s, failure_next_attempt_at
from integrations.services.tokens.memo import _memo, memo_clear, token_generations_prefetch
from integrations.services.tokens.steps import AuthStep, AuthStepFailed, IssuedToken

__all__ = [
    "AuthStep",
    "AuthStepFailed",
    "IssuedToken",
    "_memo",  # tests stand in for another process by swapping what this one remembers
    "access_token_get",
    "failure_cooldown_s",
    "failure_next_attempt_at",
    "memo_clear",
    "token_generations_prefetch",
    "user_session_get",
]
