"""Reads of one endpoint's page: its last probes as a heartbeat, its test calls, its tokens.

Every read is bounded by the endpoint and a LIMIT on an (endpoint, newest first) index,
so the page costs the same however many raw results are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from integrations.models import Endpoint, ProbeResult, TestCall
from integrations.templatetags.portal import ms, portal_time_text

# A missed slot is the portal's failure to probe, not the customer's: grey, not red.
OK, FAILED, MISSED = "ok", "failed", "missed"
BEAT_FIELDS = ("started_at", "ok", "status", "latency_ms", "error_code", "missed_reason")


def endpoint_detail_queryset() -> QuerySet[Endpoint]:
    """Endpoints with what the page header and token panel read, joined in one query."""
    return Endpoint.objects.select_related(
        "environment__customer",
        "health",
        "oauth_client__access_token",
        "default_test_user__session",
        "default_test_user__customer_auth",  # a failed login's next attempt reads it
    )


@dataclass(frozen=True)
class Heartbeat:
    """One probe slot as a block of the heartbeat bar."""

    at: datetime
    outcome: str  # OK, FAILED or MISSED
    status: int | None
    latency_ms: float | None
    error_code: str
    missed_reason: str

    @property
    def label(self) -> str:
        """What the block says to a pointer (title) and a screen reader (aria-label)."""
        when = portal_time_text(self.at)
        if self.outcome == MISSED:
            return f"{when}: missed, not probed ({self.missed_reason.replace('_', ' ')})"
        parts = [f"{when}: {self.outcome}", ms(self.latency_ms)]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.error_code:
            parts.append(self.error_code)
        return " · ".join(parts)


def endpoint_heartbeats(*, endpoint: Endpoint, limit: int) -> list[Heartbeat]:
    """The endpoint's last ``limit`` slots (probed or missed), oldest first."""
    rows = (
        ProbeResult.objects.filter(endpoint=endpoint)
        .order_by("-started_at", "-id")
        .values_list(*BEAT_FIELDS)[:limit]
    )
    return [_heartbeat(*row) for row in reversed(rows)]


def _heartbeat(
    at: datetime,
    ok: bool,
    status: int | None,
    latency_ms: float | None,
    error_code: str,
    missed_reason: str,
) -> Heartbeat:
    outcome = MISSED if missed_reason else OK if ok else FAILED
    return Heartbeat(at, outcome, status, latency_ms, error_code, missed_reason)


@dataclass(frozen=True)
class HeartbeatSummary:
    """The heartbeat in words, so its meaning never rests on colour alone."""

    total: int
    ok: int
    failed: int
    missed: int

    @property
    def text(self) -> str:
        if not self.total:
            return "No probes recorded yet."
        return f"{self.ok} of {self.total} ok · {self.failed} failed · {self.missed} missed"


def heartbeat_summary(beats: list[Heartbeat]) -> HeartbeatSummary:
    outcomes = [b.outcome for b in beats]
    return HeartbeatSummary(
        len(outcomes), outcomes.count(OK), outcomes.count(FAILED), outcomes.count(MISSED)
    )


def endpoint_test_calls(*, endpoint: Endpoint, limit: int = 10) -> list[TestCall]:
    """The newest test calls, without their stored request, response and curl export."""
    return list(
        TestCall.objects.filter(endpoint=endpoint)
        .select_related("test_user")
        .only(
            "created_at",
            "actor_label",
            "ok",
            "status",
            "error_code",
            "duration_ms",
            "endpoint_id",
            "test_user__label",
        )
        .order_by("-created_at", "-id")[:limit]
    )
