"""What the token broker hands back: the token, and the auth step as a person reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from integrations.errors import PortalError
from integrations.outbound import Exchange


@dataclass
class AuthStep:
    """One authentication step of a call, as shown to a solution engineer."""

    name: str  # "oauth_token" or "customer_auth"
    credential: str
    outcome: str  # cache_hit | fetched | reused_after_wait | refreshed_after_401 | stale | failed
    duration_ms: float
    expires_at: datetime | None = None
    exchange: Exchange | None = None  # None on a failure told from the cool-down: nothing sent
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


class AuthStepFailed(PortalError):
    """An authentication step failed; ``step`` says which, ``cause`` why."""

    def __init__(self, *, step: AuthStep, cause: Exception) -> None:
        message = getattr(cause, "message", str(cause))
        super().__init__(f"{step.name} for {step.credential} failed: {message}")
        self.code = getattr(cause, "code", "auth_failed")
        self.step = step
        self.cause = cause
