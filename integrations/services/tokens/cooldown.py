"""How long a credential's failed token fetch or login is not repeated, by anyone.

A failure is recorded on the credential's token row (services.tokens.broker). For its
cool-down every caller, in every process, is told of that failure instead of sending
the customer another request. The cool-down doubles with each consecutive failure up
to a cap (settings TOKEN_FAILURE_*), and is varied by a jitter derived from the row and
its failure count rather than drawn at random: every process computes the same moment
for the next attempt without storing it, while credentials that failed together (one
customer's outage) still retry apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from integrations import clock
from integrations.choices import RefreshOutcome
from integrations.models.tokens import CachedToken

# 2 ** this times the base is past any sensible cap: the exponent need not grow further.
_MAX_DOUBLINGS = 32


@dataclass(frozen=True)
class Failure:
    """A credential's last failed fetch, as its token row records it."""

    code: str
    message: str
    at: datetime
    failures: int  # consecutive, this one included
    cooldown_s: float

    @property
    def next_attempt_at(self) -> datetime:
        return self.at + timedelta(seconds=self.cooldown_s)

    def cooling(self) -> bool:
        """Whether the failure is too recent to try again."""
        return clock.now() < self.next_attempt_at

    def explained(self) -> str:
        """The failure as told to a caller that was not sent: when, and when next."""
        now = clock.now()
        age = max(0.0, (now - self.at).total_seconds())
        wait = max(0.0, (self.next_attempt_at - now).total_seconds())
        next_at = self.next_attempt_at.astimezone(UTC).strftime("%H:%M:%S UTC")
        times = "" if self.failures == 1 else f", {self.failures} times in a row"
        return (
            f"the credential failed {age:.0f} s ago{times}; next attempt at {next_at} "
            f"(in {wait:.0f} s). Last error: {self.message}"
        )


def failure_cooldown_s(*, model_label: str, pk: Any, consecutive_failures: int) -> float:
    """Seconds a failure of this token row is shared instead of retried.

    TOKEN_FAILURE_COOLDOWN_S after the first failure, doubling up to the cap, times
    1 +/- TOKEN_FAILURE_JITTER; the jitter is applied after the cap, so credentials that
    keep failing together do not all retry in the same second.
    """
    failures = max(1, consecutive_failures)
    doubled = settings.TOKEN_FAILURE_COOLDOWN_S * 2 ** min(failures - 1, _MAX_DOUBLINGS)
    capped = min(doubled, settings.TOKEN_FAILURE_COOLDOWN_MAX_S)
    return capped * (1 + _jitter(model_label, pk, failures))


def _jitter(model_label: str, pk: Any, failures: int) -> float:
    """A fraction within +/- TOKEN_FAILURE_JITTER, the same in every process."""
    digest = hashlib.blake2b(f"{model_label}:{pk}:{failures}".encode(), digest_size=8).digest()
    unit = int.from_bytes(digest, "big") / 2**64  # uniform in [0, 1)
    return (2 * unit - 1) * settings.TOKEN_FAILURE_JITTER


def row_failure(row: CachedToken | None) -> Failure | None:
    """The row's last failure, cooling or not; None when its last fetch did not fail."""
    if row is None or row.last_outcome != RefreshOutcome.FAILED or row.last_error_at is None:
        return None
    return Failure(
        code=row.last_error_code or "auth_failed",
        message=row.last_error_message,
        at=row.last_error_at,
        failures=row.consecutive_failures,
        cooldown_s=failure_cooldown_s(
            model_label=row._meta.label, pk=row.pk, consecutive_failures=row.consecutive_failures
        ),
    )


def recent_failure(row: CachedToken | None, *, changed_at: datetime | None) -> Failure | None:
    """The row's failure while it is cooling down, unless the credential was edited
    since (``changed_at``): a corrected secret is tried at once, not after the cool-down."""
    failure = row_failure(row)
    if failure is None or not failure.cooling():
        return None
    if changed_at is not None and changed_at > failure.at:
        return None
    return failure


def failure_next_attempt_at(*, row: CachedToken | None) -> datetime | None:
    """When the failing credential of this row is tried again; None when it is not cooling."""
    credential = getattr(row, "oauth_client", None) or getattr(row, "test_user", None)
    failure = recent_failure(row, changed_at=getattr(credential, "settings_changed_at", None))
    return failure.next_attempt_at if failure else None
