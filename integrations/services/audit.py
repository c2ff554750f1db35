"""Writing audit events."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from accounts.throttle import client_ip
from integrations.choices import AuditAction
from integrations.models import AuditEvent


def _client_ip(request: HttpRequest | None) -> str | None:
    # The same address the login throttle counts: behind a trusted proxy, the client's.
    address = client_ip(request)
    return None if address == "-" else address


def audit_record(
    *,
    action: AuditAction,
    actor: Any = None,
    actor_label: str = "",
    request: HttpRequest | None = None,
    obj: models.Model | None = None,
    changed_fields: list[str] | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record one action. Callers pass field names and ids, never secret values."""
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
        actor_label=actor_label or (actor.get_username() if is_user else "system"),
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        changed_fields=sorted(changed_fields or []),
        detail=detail or {},
        ip_address=_client_ip(request),
    )
