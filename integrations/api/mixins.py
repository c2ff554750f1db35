"""ViewSet building blocks: every configuration write is audited here, in one place."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from rest_framework import viewsets
from rest_framework.serializers import BaseSerializer

from accounts.models import ApiToken
from integrations.admin_forms import secret_field_names
from integrations.choices import AuditAction
from integrations.services.audit import audit_record


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


class ConfigViewSet(AuditedWritesMixin, viewsets.ModelViewSet):
    """A configuration resource: viewers read it, engineers and admins change it."""


class HistoryViewSet(viewsets.ReadOnlyModelViewSet):
    """Status and history: read-only for every role."""
