"""Serializers of what happened: test calls, probes, health, transitions, audit, refreshes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from integrations import clock
from integrations.models import (
    AuditEvent,
    EndpointHealth,
    HealthTransition,
    ProbeResult,
    TestCall,
    TestUser,
)
from integrations.services.call_variables import (
    call_variables_missing,
    missing_variables_message,
)
from integrations.services.test_call_trace import test_call_trace_data
from integrations.validators import call_variables_problems


class TestCallRunSerializer(serializers.Serializer):
    """Input of POST /endpoints/{id}/test-calls/."""

    __test__ = False

    test_user = serializers.PrimaryKeyRelatedField(
        queryset=TestUser.objects.all(),
        required=False,
        allow_null=True,
        help_text="A test user of the endpoint's customer auth; default: the endpoint's.",
    )
    variables = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="Values for the {placeholders} in the endpoint's path, headers and body.",
    )

    def validate_test_user(self, user: TestUser | None) -> TestUser | None:
        endpoint = self.context["endpoint"]
        if user is not None and user.customer_auth_id != endpoint.customer_auth_id:
            raise serializers.ValidationError("Not a test user of this endpoint's customer auth.")
        return user

    def validate_variables(self, variables: dict[str, str]) -> dict[str, str]:
        endpoint = self.context["endpoint"]
        if problems := call_variables_problems(endpoint.headers_template, variables):
            raise serializers.ValidationError(problems)
        return variables

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Here, not in validate_variables: a request without "variables" is checked too.
        endpoint = self.context["endpoint"]
        if missing := call_variables_missing(endpoint=endpoint, given=attrs.get("variables", {})):
            raise serializers.ValidationError({"variables": [missing_variables_message(missing)]})
        return attrs


class TraceStepSerializer(serializers.Serializer):
    """One step of a test call's trace (for the schema; the data is built by a service)."""

    number = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["oauth_token", "customer_auth", "business_call"])
    title = serializers.CharField()
    credential = serializers.CharField()
    outcome = serializers.CharField(
        help_text="fetched, cache_hit, refreshed_after_401, stale, failed; for the business "
        "call ok, failed or not_sent."
    )
    sent = serializers.BooleanField(help_text="Whether this step sent a request.")
    summary = serializers.CharField(help_text="What happened, e.g. 'Not sent: step 1 failed.'")
    duration_ms = serializers.FloatField(allow_null=True)
    request = serializers.DictField(allow_null=True, help_text="As sent, redacted.")
    response = serializers.DictField(
        allow_null=True, help_text="As received, redacted, with timings; null when none arrived."
    )
    redirects = serializers.ListField(child=serializers.DictField())
    error_code = serializers.CharField()
    error_message = serializers.CharField()


class TestCallSerializer(serializers.ModelSerializer):
    """A stored test call: redacted request, response, auth steps and the curl export."""

    __test__ = False

    trace = serializers.SerializerMethodField(
        help_text="The auth steps and the business call in order, each with its redacted "
        "request and response; the business call says which step stopped it."
    )

    class Meta:
        model = TestCall
        fields = [
            "id",
            "endpoint",
            "test_user",
            "actor_label",
            "created_at",
            "ok",
            "status",
            "error_code",
            "error_message",
            "duration_ms",
            "request",
            "response",
            "auth_steps",
            "trace",
            "curl",
        ]
        read_only_fields = fields
        # A call that got no answer is stored too; these say how to read one.
        extra_kwargs = {
            "status": {"help_text": "The customer's HTTP status; null when no response arrived."},
            "error_code": {
                "help_text": "The typed error (e.g. connect_failure, upstream_timeout); "
                "the same code probes and readiness checks store for the same fault."
            },
            "response": {
                "help_text": "What arrived, redacted: status, headers, body, redirect hops "
                "and timings; status is null when the call failed before an answer."
            },
        }

    @extend_schema_field(TraceStepSerializer(many=True))
    def get_trace(self, call: TestCall) -> list[dict[str, Any]]:
        return test_call_trace_data(call=call)


class ProbeResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProbeResult
        fields = [
            "id",
            "endpoint",
            "due_at",
            "started_at",
            "lag_ms",
            "ok",
            "status",
            "latency_ms",
            "error_class",
            "error_code",
            "message",
            "failing_step",
            "steps",
            "missed_reason",
        ]


class EndpointHealthSerializer(serializers.ModelSerializer):
    monitoring_gap = serializers.SerializerMethodField(
        help_text="True when the endpoint has had no probe for two intervals."
    )

    class Meta:
        model = EndpointHealth
        fields = [
            "endpoint",
            "state",
            "state_since",
            "consecutive_failures",
            "consecutive_successes",
            "next_probe_at",
            "last_probe_at",
            "last_success_at",
            "last_latency_ms",
            "last_error_class",
            "last_error_code",
            "last_error_message",
            "failing_step",
            "monitoring_gap_at",
            "monitoring_gap",
        ]

    def get_monitoring_gap(self, health: EndpointHealth) -> bool:
        return health.monitoring_gap(clock.now())


class HealthTransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = HealthTransition
        fields = ["id", "endpoint", "at", "from_state", "to_state", "reason", "failing_step"]


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changed_fields",
            "detail",
            "ip_address",
        ]


class TokenRefreshSerializer(serializers.Serializer):
    """The outcome of a forced token refresh: expiry and timing, never the token."""

    credential = serializers.CharField(source="step.credential")
    outcome = serializers.CharField(source="step.outcome", help_text="fetched")
    issued_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    expires_in_s = serializers.SerializerMethodField()
    duration_ms = serializers.FloatField(source="step.duration_ms")
    warnings = serializers.ListField(child=serializers.CharField(), source="step.warnings")

    def get_expires_in_s(self, issued: Any) -> int:
        return max(0, int((issued.expires_at - clock.now()).total_seconds()))
