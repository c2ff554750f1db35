"""Serializers of configuration: customers, environments, credentials, endpoints."""

from __future__ import annotations

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


class CustomerSerializer(PortalModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "slug", "notes", "is_active", "created_at", "updated_at"]


class EnvironmentSerializer(PortalModelSerializer):
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
        ]


class OAuthClientSerializer(PortalModelSerializer):
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
        ]


class CustomerAuthSerializer(PortalModelSerializer):
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
    immutable_fields = ("environment",)
    health_state = serializers.CharField(source="health.state", read_only=True, allow_null=True)

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
