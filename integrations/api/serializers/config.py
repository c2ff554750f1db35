"""Serializers of configuration: customers, environments, credentials, endpoints."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integrations.api.serializers.base import CachedTokenStatusSerializer, PortalModelSerializer
from integrations.models import (
    ApiKey,
    Customer,
    CustomerAuth,
    Endpoint,
    Environment,
    OAuthClient,
    TestUser,
)
from integrations.outbound.redaction import MARKER, is_credential_header, is_sensitive_key
from integrations.services.templates import has_literal, masked_body_template


class OriginChangeSerializer(serializers.Serializer):
    old_origin = serializers.CharField()
    new_origin = serializers.CharField()


class DestinationChangeSerializer(serializers.Serializer):
    """What an update did to the stored secrets whose destination it changed."""

    action = serializers.ChoiceField(choices=["cleared", "kept"])
    changes = OriginChangeSerializer(many=True)
    secrets = serializers.ListField(child=serializers.CharField(), help_text="Names, never values.")
    message = serializers.CharField()


class DestinationFieldsMixin(serializers.Serializer):
    """``keep_secrets`` on writes; ``destination_change`` in the answer to an update.

    A new scheme, host or port clears the stored secrets that went to the old one
    (services.destinations); an admin may send ``keep_secrets: true`` to keep them.
    """

    keep_secrets = serializers.BooleanField(
        write_only=True,
        required=False,
        help_text="Admins only: keep the stored secrets when this update changes the scheme, "
        "host or port they are sent to. Otherwise they are cleared and must be entered again.",
    )
    destination_change = serializers.SerializerMethodField(
        help_text="Set when this update changed where stored secrets go: which were cleared "
        "(or kept by an admin). Null otherwise."
    )

    @extend_schema_field(DestinationChangeSerializer(allow_null=True))
    def get_destination_change(self, obj: Any) -> dict[str, Any] | None:
        outcome = self.context.get("destination_change")
        return None if outcome is None else outcome.as_dict()


class CustomerSerializer(PortalModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "slug", "notes", "is_active", "created_at", "updated_at"]


class EnvironmentSerializer(DestinationFieldsMixin, PortalModelSerializer):
    immutable_fields = ("customer",)

    class Meta:
        model = Environment
        fields = [
            "id",
            "customer",
            "name",
            "slug",
            "kind",
            "base_url",
            "is_enabled",
            "verify_tls",
            "connect_timeout_ms",
            "deadline_ms",
            "latency_budget_ms",
            "created_at",
            "updated_at",
            "keep_secrets",
            "destination_change",
        ]


class OAuthClientSerializer(DestinationFieldsMixin, PortalModelSerializer):
    secret_fields = ("client_secret",)
    immutable_fields = ("environment",)
    token = CachedTokenStatusSerializer(source="access_token", read_only=True, allow_null=True)

    class Meta:
        model = OAuthClient
        fields = [
            "id",
            "environment",
            "name",
            "token_url",
            "client_id",
            "scope",
            "auth_style",
            "access_token_field",
            "token_type_field",
            "expires_in_field",
            "issued_at_field",
            "token",
            "created_at",
            "updated_at",
            "keep_secrets",
            "destination_change",
        ]


class CustomerAuthSerializer(DestinationFieldsMixin, PortalModelSerializer):
    secret_fields = ("jwt_verification_key",)
    immutable_fields = ("environment",)

    class Meta:
        model = CustomerAuth
        fields = [
            "id",
            "environment",
            "name",
            "authenticate_url",
            "mode",
            "username_field",
            "password_field",
            "token_field",
            "expires_in_field",
            "issued_at_field",
            "cookie_name",
            "identity_claim",
            "jwks_url",
            "created_at",
            "updated_at",
            "keep_secrets",
            "destination_change",
        ]


class TestUserSerializer(PortalModelSerializer):
    __test__ = False

    secret_fields = ("password",)
    immutable_fields = ("customer_auth",)
    session = CachedTokenStatusSerializer(read_only=True, allow_null=True)

    class Meta:
        model = TestUser
        fields = [
            "id",
            "customer_auth",
            "label",
            "username",
            "is_active",
            "session",
            "created_at",
            "updated_at",
        ]


class ApiKeySerializer(PortalModelSerializer):
    secret_fields = ("value",)
    immutable_fields = ("environment",)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "environment",
            "name",
            "header_name",
            "expires_on",
            "notes",
            "created_at",
            "updated_at",
        ]


class EndpointSerializer(PortalModelSerializer):
    """Template values and sample variables named like credentials read as [REDACTED]
    (rows saved before such literals were refused); a sample variable sent back as
    [REDACTED] keeps its stored value, like a write-only secret left out."""

    immutable_fields = ("environment",)
    health_state = serializers.CharField(source="health.state", read_only=True, allow_null=True)

    def to_representation(self, instance: Endpoint) -> dict[str, Any]:
        data = super().to_representation(instance)
        headers = data.get("headers_template")
        if isinstance(headers, dict):
            data["headers_template"] = {
                k: MARKER if is_credential_header(k) and has_literal(v) else v
                for k, v in headers.items()
            }
        data["body_template"] = masked_body_template(data.get("body_template"), MARKER)
        if isinstance(variables := data.get("sample_variables"), dict):
            data["sample_variables"] = {
                k: MARKER if is_sensitive_key(k) else v for k, v in variables.items()
            }
        return data

    def validate_sample_variables(self, value: Any) -> Any:
        stored = self.instance.sample_variables if self.instance is not None else {}
        if not isinstance(value, dict) or not isinstance(stored, dict):
            return value
        return {k: stored.get(k, v) if v == MARKER else v for k, v in value.items()}

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "environment",
            "name",
            "slug",
            "method",
            "path",
            "headers_template",
            "body_template",
            "sample_variables",
            "oauth_client",
            "customer_auth",
            "api_key",
            "default_test_user",
            "identifier_location",
            "identifier_header",
            "identifier_format",
            "identifier_body_field",
            "follow_redirects",
            "timeout_ms",
            "expected_status",
            "assertions",
            "probe_enabled",
            "probe_interval_s",
            "retry_interval_s",
            "failure_threshold",
            "success_threshold",
            "health_state",
            "created_at",
            "updated_at",
        ]
