"""Refreshing a credential's token now, on a person's or tool's request, audited.

The new token reaches every process at once: storing it gives the token row a new
generation, so no worker serves the replaced token from its memo (services.tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models
from django.http import HttpRequest

from integrations.choices import AuditAction
from integrations.models import OAuthClient, TestUser
from integrations.services.audit import audit_record
from integrations.services.tokens import (
    AuthStepFailed,
    IssuedToken,
    access_token_get,
    user_session_get,
)


def access_token_refresh_now(
    *, oauth_client: OAuthClient, actor: Any, request: HttpRequest | None = None
) -> IssuedToken:
    """Fetch a new access token even if the cached one is good; AuthStepFailed if it fails."""
    return _refresh_now(
        credential=oauth_client,
        fetch=lambda: access_token_get(oauth_client=oauth_client, force=True),
        actor=actor,
        request=request,
    )


def user_session_refresh_now(
    *, test_user: TestUser, actor: Any, request: HttpRequest | None = None
) -> IssuedToken:
    """Log the test user in again now; AuthStepFailed if it fails."""
    return _refresh_now(
        credential=test_user,
        fetch=lambda: user_session_get(test_user=test_user, force=True),
        actor=actor,
        request=request,
    )


def _refresh_now(
    *,
    credential: models.Model,
    fetch: Callable[[], IssuedToken],
    actor: Any,
    request: HttpRequest | None,
) -> IssuedToken:
    try:
        issued = fetch()
    except AuthStepFailed as error:
        detail: dict[str, Any] = {"ok": False, "error_code": error.code}
        audit_record(
            action=AuditAction.REFRESH_TOKEN,
            actor=actor,
            request=request,
            obj=credential,
            detail=detail,
        )
        raise
    detail = {"ok": True, "expires_at": issued.expires_at.isoformat()}
    audit_record(
        action=AuditAction.REFRESH_TOKEN,
        actor=actor,
        request=request,
        obj=credential,
        detail=detail,
    )
    return issued
