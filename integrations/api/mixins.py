"""ViewSet building blocks: every configuration write is audited here, in one place."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from rest_framework import viewsets
from rest_framework.serializers import BaseSerializer

from accounts.models import ApiToken
from integrations.admin_forms import KEEP_SECRETS, secret_field_names
from integrations.api.errors import PortalApiError
from integrations.choices import AuditAction
from integrations.services.audit import audit_record
from integrations.services.destinations import (
    KeepSecretsRefused,
    destination_change_settle,
    destinations_snapshot,
    may_keep_secrets,
)


def changed_field_names(instance: models.Model, data: dict[str, Any]) -> list[str]:
    """Names of the fields ``data`` changes; a secret that is written always counts."""
    secrets = set(secret_field_names(type(instance)))
    return sorted(
        name for name, value in data.items() if name in secrets or getattr(instance, name) != value
    )


class AuditedWritesMixin:
    """Create, change and delete write one AuditEvent each: who, what, which field names."""

    request: Any

    def perform_create(self, serializer: BaseSerializer) -> None:
        with transaction.atomic():
            obj = serializer.save()
            self._audit(AuditAction.CREATE, obj, sorted(serializer.validated_data))

    def perform_update(self, serializer: BaseSerializer) -> None:
        changed = changed_field_names(serializer.instance, serializer.validated_data)
        with transaction.atomic():
            obj = serializer.save()
            self._audit(AuditAction.CHANGE, obj, changed)

    def perform_destroy(self, instance: models.Model) -> None:
        # One transaction: a delete refused as still in use leaves no audit event behind.
        with transaction.atomic():
            self._audit(AuditAction.DELETE, instance, [])
            instance.delete()

    def _audit(self, action: AuditAction, obj: models.Model, fields: list[str]) -> None:
        token = self.request.auth if isinstance(self.request.auth, ApiToken) else None
        audit_record(
            action=action,
            actor=self.request.user,
            request=self.request,
            obj=obj,
            changed_fields=fields,
            detail={"via": "api", **({"api_token": token.prefix} if token else {})},
        )


class DestinationWritesMixin:
    """Updates that move where secrets go clear them, unless an admin sends keep_secrets.

    The outcome reaches the response through the serializer context (destination_change).
    """

    request: Any

    def perform_create(self, serializer: BaseSerializer) -> None:
        serializer.validated_data.pop(KEEP_SECRETS, None)  # nothing is stored yet to keep
        super().perform_create(serializer)  # type: ignore[misc]

    def perform_update(self, serializer: BaseSerializer) -> None:
        keep = bool(serializer.validated_data.pop(KEEP_SECRETS, False))
        if keep and not may_keep_secrets(self.request.user):
            # Refused before anything is written.
            raise PortalApiError(
                KeepSecretsRefused.message, code=KeepSecretsRefused.code, status_code=403
            )
        before = destinations_snapshot(obj=serializer.instance)
        with transaction.atomic():
            super().perform_update(serializer)  # type: ignore[misc]
            outcome = destination_change_settle(
                obj=serializer.instance,
                before=before,
                keep_secrets=keep,
                actor=self.request.user,
                request=self.request,
                via="api",
            )
        if outcome is not None and not outcome.kept:
            serializer.instance.refresh_from_db()  # the answer shows the secrets as cleared
        serializer.context["destination_change"] = outcome


class ConfigViewSet(AuditedWritesMixin, viewsets.ModelViewSet):
    """A configuration resource: viewers read it, engineers and admins change it."""


class HistoryViewSet(viewsets.ReadOnlyModelViewSet):
    """Status and history: read-only for every role."""
