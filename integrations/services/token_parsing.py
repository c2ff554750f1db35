"""Reading token responses: the guide's quirks (strings, epoch milliseconds) and RFC 6749's.

The guide sends ``"expires_in": "28799"`` and ``"issued_at": "1570733606449"`` (epoch
milliseconds, as strings); RFC 6749 servers send ``expires_in`` as an integer and no
``issued_at``. Both are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from integrations.errors import TokenResponseError


@dataclass(frozen=True)
class Expiry:
    issued_at: datetime
    expires_at: datetime
    warnings: list[str] = field(default_factory=list)

    @property
    def lifetime(self) -> timedelta:
        return self.expires_at - self.issued_at


def require_string_field(payload: Any, name: str) -> str:
    """The named field as a non-empty string, or an error naming the field."""
    if not isinstance(payload, dict):
        raise TokenResponseError(
            "The token response is not a JSON object.", code="not_an_object", field=name
        )
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise TokenResponseError(
            f"The token response has no '{name}' field (or it is empty).",
            code="missing_field",
            field=name,
        )
    return value


def parse_expires_in(value: Any, *, name: str) -> int | None:
    """Seconds as an integer or a string of digits; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        value = "invalid"
    try:
        seconds = int(value) if isinstance(value, int | str) else int("invalid")
    except ValueError:
        raise TokenResponseError(
            f"'{name}' must be a number of seconds, got {str(value)[:40]!r}.",
            code="invalid_expires_in",
            field=name,
        ) from None
    if seconds <= 0:
        raise TokenResponseError(
            f"'{name}' must be positive, got {seconds}.", code="invalid_expires_in", field=name
        )
    return seconds


def parse_issued_at(value: Any, *, name: str) -> datetime | None:
    """Epoch milliseconds (the guide) or seconds, as a number or a string; None when absent."""
    if value is None or value == "":
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else float("nan")
    except ValueError:
        number = float("nan")
    if number != number or isinstance(value, bool) or number <= 0:
        raise TokenResponseError(
            f"'{name}' must be an epoch timestamp, got {str(value)[:40]!r}.",
            code="invalid_issued_at",
            field=name,
        )
    # Epoch milliseconds exceed 1e11 for any date after 1973; seconds do not until 5138.
    seconds = number / 1000 if number > 1e11 else number
    return datetime.fromtimestamp(seconds, tz=UTC)


def compute_expiry(
    payload: dict[str, Any],
    *,
    expires_in_field: str,
    issued_at_field: str,
    sent_at: datetime,
    received_at: datetime,
) -> Expiry:
    """When the token was issued and when it expires, by our clock."""
    warnings: list[str] = []
    lifetime = parse_expires_in(payload.get(expires_in_field), name=expires_in_field)
    if lifetime is None:
        lifetime = settings.TOKEN_DEFAULT_LIFETIME_S
        warnings.append(f"No '{expires_in_field}' in the response; assumed {lifetime} s.")
    issued = (
        parse_issued_at(payload.get(issued_at_field), name=issued_at_field)
        if (issued_at_field)
        else None
    )
    base = _skew_guarded(issued, sent_at=sent_at, received_at=received_at, warnings=warnings)
    return Expiry(issued_at=base, expires_at=base + timedelta(seconds=lifetime), warnings=warnings)


def _skew_guarded(
    issued: datetime | None, *, sent_at: datetime, received_at: datetime, warnings: list[str]
) -> datetime:
    """Trust issued_at only when it agrees with our clock.

    A token cannot have been issued after we received it, so a later issued_at means
    the customer's clock runs ahead: counting from it would keep the token past its
    real expiry. An issued_at far in the past means the clock runs behind; counting
    from it would expire tokens early, so our send time is used and the skew reported.
    """
    if issued is None:
        return sent_at
    skew = timedelta(seconds=settings.TOKEN_MAX_CLOCK_SKEW_S)
    if issued > received_at:
        warnings.append(
            f"issued_at is {(issued - received_at).total_seconds():.0f} s ahead of our clock; "
            "counted from the request time instead."
        )
        return sent_at
    if issued < sent_at - skew:
        warnings.append(
            f"issued_at is {(sent_at - issued).total_seconds():.0f} s behind our clock; "
            "counted from the request time instead."
        )
        return sent_at
    return issued


def refresh_due_at(*, issued_at: datetime, expires_at: datetime) -> datetime:
    """The later of (expiry - margin) and (issued + ratio x lifetime), never after expiry."""
    margin = timedelta(seconds=settings.TOKEN_REFRESH_MARGIN_S)
    by_ratio = issued_at + (expires_at - issued_at) * settings.TOKEN_REFRESH_RATIO
    return min(max(expires_at - margin, by_ratio), expires_at)
