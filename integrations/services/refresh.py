"""Proactive token refresh: tokens used by probed endpoints are renewed before they are due.

A refresh goes through the token broker with the current token marked as refused,
so it is single-flight with every on-demand caller. Each refresh is scheduled at the
token's refresh point minus a random jitter (so many credentials do not refresh in
the same second); failures back off exponentially.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from integrations import clock
from integrations.models import AccessToken, Endpoint, OAuthClient, TestUser, UserSession
from integrations.models.tokens import CachedToken
from integrations.services.token_parsing import refresh_due_at
from integrations.services.tokens import AuthStepFailed, access_token_get, user_session_get

logger = logging.getLogger(__name__)
_jitter = random.SystemRandom()


@dataclass
class RefreshReport:
    refreshed: int = 0
    failed: int = 0


def _next_after_success(row: CachedToken, now: datetime) -> datetime | None:
    if row.issued_at is None or row.expires_at is None:
        return None
    due = refresh_due_at(issued_at=row.issued_at, expires_at=row.expires_at)
    jitter = timedelta(seconds=_jitter.uniform(0, settings.TOKEN_REFRESH_JITTER_S))
    return max(due - jitter, now + timedelta(seconds=1))


def _next_after_failure(row: CachedToken, now: datetime) -> datetime:
    backoff = min(
        10 * 2 ** max(0, row.consecutive_failures - 1), settings.TOKEN_REFRESH_BACKOFF_MAX_S
    )
    return now + timedelta(seconds=backoff * _jitter.uniform(0.8, 1.2))


def _refresh(row: CachedToken, fetch: object) -> bool:
    rejected = row.token.reveal() if row.token is not None else None
    try:
        fetch(rejected)  # type: ignore[operator]
        ok = True
    except AuthStepFailed as error:
        logger.warning("token refresh failed for %s: %s", row, error.code)
        ok = False
    row.refresh_from_db()
    now = clock.now()
    row.next_refresh_at = _next_after_success(row, now) if ok else _next_after_failure(row, now)
    row.save(update_fields=["next_refresh_at"])
    return ok


def access_token_refresh(*, oauth_client: OAuthClient) -> bool:
    row, _ = AccessToken.objects.get_or_create(oauth_client=oauth_client)
    return _refresh(
        row, lambda rejected: access_token_get(oauth_client=oauth_client, rejected=rejected)
    )


def user_session_refresh(*, test_user: TestUser) -> bool:
    row, _ = UserSession.objects.get_or_create(test_user=test_user)
    return _refresh(row, lambda rejected: user_session_get(test_user=test_user, rejected=rejected))


def _probed() -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(probe_enabled=True, environment__is_enabled=True)


def tokens_refresh_due(*, now: datetime | None = None) -> RefreshReport:
    """Refresh every due token of a credential that a probed endpoint uses."""
    now = now or clock.now()
    report = RefreshReport()
    clients = OAuthClient.objects.select_related("environment").filter(
        access_token__next_refresh_at__lte=now, pk__in=_probed().values("oauth_client")
    )
    users = TestUser.objects.select_related("customer_auth__environment").filter(
        session__next_refresh_at__lte=now, pk__in=_probed().values("default_test_user")
    )
    for client in clients:
        ok = access_token_refresh(oauth_client=client)
        report.refreshed, report.failed = report.refreshed + ok, report.failed + (not ok)
    for user in users:
        ok = user_session_refresh(test_user=user)
        report.refreshed, report.failed = report.refreshed + ok, report.failed + (not ok)
    return report
