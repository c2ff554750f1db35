"""Base serializer of configuration resources: write-only secrets, fixed parents, clean(),
and the model's save rules (integrations.models.rules) on its fields.

A secret field (``client_secret``, ``password``, ``value``) is accepted on writes and
never read back: responses carry ``<name>_set`` and ``<name>_fingerprint`` instead.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integrations.admin_forms import REQUIRED_SECRETS
from integrations.crypto import SecretDecryptionError
from integrations.fields import validate_secret_length
from integrations.models.tokens import CachedToken
from integrations.services.tokens import failure_next_attempt_at

SECRET_MAX_LENGTH = 4096


@extend_schema_field({"type": "boolean", "readOnly": True})
class SecretSetField(serializers.Field):
    """Whether the secret named ``secret`` is stored."""

    def __init__(self, *, secret: str, **kwargs: Any) -> None:
        self.secret = secret
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance: models.Model) -> bool:
        return getattr(instance, self.secret) is not None


@extend_schema_field({"type": "string", "nullable": True, "readOnly": True})
class SecretFingerprintField(SecretSetField):
    """A short keyed fingerprint of the stored secret, to tell values apart; null if unset."""

    def to_representation(self, instance: models.Model) -> str | None:  # type: ignore[override]
        secret = getattr(instance, self.secret)
        try:
            return None if secret is None else secret.fingerprint()
        except SecretDecryptionError:
            return None  # stored under a key we no longer have: shown as set, no fingerprint


class PortalModelSerializer(serializers.ModelSerializer):
    """Write-only secrets, parents fixed after creation, and the model's clean() as validation."""

    secret_fields: tuple[str, ...] = ()
    # Parents that cannot move: a credential moved to another environment would leave
    # endpoints that use it pointing across environments.
    immutable_fields: tuple[str, ...] = ()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name in self.secret_fields:
            fields[name] = serializers.CharField(
                write_only=True,
                required=self.instance is None and name in REQUIRED_SECRETS,
                trim_whitespace=False,
                max_length=SECRET_MAX_LENGTH,
                validators=[validate_secret_length],
                style={"input_type": "password"},
                help_text="Write-only. Leave out to keep the stored value.",
            )
            fields[f"{name}_set"] = SecretSetField(secret=name)
            fields[f"{name}_fingerprint"] = SecretFingerprintField(secret=name)
        # The model's save rules, as field validators: errors in DRF's per-field shape.
        for name, rule in getattr(self.Meta.model, "save_rules", {}).items():
            if name in fields and not fields[name].read_only:
                fields[name].validators = [*fields[name].validators, rule]
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if self.instance is not None:
            moved = {
                name: "Cannot be changed after creation; create a new one instead."
                for name in self.immutable_fields
                if name in attrs and attrs[name] != getattr(self.instance, name)
            }
            if moved:
                raise serializers.ValidationError(moved)
        self._model_clean(attrs)
        return attrs

    def _model_clean(self, attrs: dict[str, Any]) -> None:
        """Run Model.clean() on an unsaved copy with the new values applied."""
        model = self.Meta.model
        if self.instance is None:
            candidate = model()
        else:
            concrete = model._meta.concrete_fields
            candidate = model(**{f.attname: getattr(self.instance, f.attname) for f in concrete})
        for name, value in attrs.items():
            setattr(candidate, name, value)
        try:
            candidate.clean()
        except DjangoValidationError as error:
            raise serializers.ValidationError(serializers.as_serializer_error(error)) from None


class CachedTokenStatusSerializer(serializers.Serializer):
    """The cached token of a credential: when it expires and how the last refresh went."""

    issued_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    fetched_at = serializers.DateTimeField(allow_null=True)
    next_refresh_at = serializers.DateTimeField(allow_null=True)
    last_outcome = serializers.CharField()
    last_error_code = serializers.CharField()
    last_error_message = serializers.CharField()
    last_error_at = serializers.DateTimeField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    next_attempt_at = serializers.SerializerMethodField(
        help_text="When a failing credential is tried again; null while it is not cooling down."
    )

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_attempt_at(self, row: CachedToken) -> str | None:
        at = failure_next_attempt_at(row=row)
        return None if at is None else serializers.DateTimeField().to_representation(at)
