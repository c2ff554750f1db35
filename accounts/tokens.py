"""API token services: create (plaintext returned once), check, revoke."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import ApiToken, TokenScope
from integrations.choices import AuditAction
from integrations.services.audit import audit_record

TOKEN_PREFIX = "pt_"
PREFIX_CHARS = 8
# last_used_at is written at most this often per token: a write per request is waste.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiTokenRejected(Exception):
    """A presented token cannot be used; ``code`` says why, ``message`` says what to do."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _secret_assign(token: ApiToken) -> str:
    """Give an unsaved token a fresh prefix and secret; returns the plaintext to show once."""
    token.prefix = secrets.token_hex(PREFIX_CHARS // 2)
    raw = f"{TOKEN_PREFIX}{token.prefix}_{secrets.token_urlsafe(32)}"
    token.secret_hash = _hash(raw)
    return raw


def api_token_create(
    *,
    user: Any,
    name: str,
    scope: TokenScope | str,
    expires_at: datetime | None = None,
    actor: Any = None,
    actor_label: str = "",
) -> tuple[ApiToken, str]:
    """A saved, audited token and its plaintext. The plaintext is not stored anywhere."""
    token = ApiToken(user=user, name=name, scope=scope, expires_at=expires_at)
    raw = api_token_save(token=token, actor=actor, actor_label=actor_label)
    return token, raw


def api_token_save(
    *, token: ApiToken, actor: Any = None, actor_label: str = "", request: Any = None
) -> str:
    """Give an unsaved token its secret, save and audit it; returns the plaintext (shown once)."""
    for _ in range(5):  # a prefix collision is one in four billion; retry anyway
        raw = _secret_assign(token)
        try:
            with transaction.atomic():
                token.save()
        except IntegrityError:
            continue
        fields = ["name", "user", "scope", "expires_at"]
        audit_record(
            action=AuditAction.CREATE,
            actor=actor,
            actor_label=actor_label,
            request=request,
            obj=token,
            changed_fields=fields,
        )
        return raw
    raise RuntimeError("could not find a free API token prefix")


def api_token_check(*, raw: str) -> ApiToken:
    """The token ``raw`` names, if it may be used now; else ApiTokenRejected."""
    prefix = _prefix_of(raw)
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    # Compared in constant time; status is told only to a holder of the real token.
    if token is None or not hmac.compare_digest(_hash(raw), token.secret_hash):
        raise ApiTokenRejected("Invalid API token.", code="token_invalid")
    now = timezone.now()
    if token.revoked_at is not None:
        raise ApiTokenRejected(
            f"This API token was revoked at {token.revoked_at:%Y-%m-%d %H:%M} UTC.",
            code="token_revoked",
        )
    if token.expires_at is not None and token.expires_at <= now:
        raise ApiTokenRejected(
            f"This API token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC; ask an admin "
            "for a new one.",
            code="token_expired",
        )
    if not token.user.is_active:
        raise ApiTokenRejected("The user of this API token is inactive.", code="user_inactive")
    _touch(token, now)
    return token


def _prefix_of(raw: str) -> str:
    body = raw[len(TOKEN_PREFIX) :]
    if not raw.startswith(TOKEN_PREFIX) or len(body) <= PREFIX_CHARS + 1:
        raise ApiTokenRejected(
            "Malformed API token: expected 'pt_' followed by the token.", code="token_invalid"
        )
    return body[:PREFIX_CHARS]


def _touch(token: ApiToken, now: datetime) -> None:
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def api_token_revoke(
    *, token: ApiToken, actor: Any = None, actor_label: str = "", request: Any = None
) -> bool:
    """Revoke the token, audited; False when it already was."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        action=AuditAction.CHANGE,
        actor=actor,
        actor_label=actor_label,
        request=request,
        obj=token,
        changed_fields=["revoked_at"],
    )
    return True
