"""REST API v1 views: boring ViewSets over the models, plus a few actions.

Permissions (accounts.permissions.RolePermission), filters, ordering, pagination and
errors come from settings.REST_FRAMEWORK; writes are audited by ConfigViewSet.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from integrations.api import filtersets, serializers
from integrations.api.mixins import ConfigViewSet, DestinationWritesMixin, HistoryViewSet
from integrations.api.schema import error_response
from integrations.models import (
    ApiKey,
    AuditEvent,
    Customer,
    CustomerAuth,
    Endpoint,
    EndpointHealth,
    Environment,
    HealthTransition,
    OAuthClient,
    ProbeResult,
    TestCall,
    TestUser,
)
from integrations.services.probe_runs import endpoint_probe_now
from integrations.services.refresh_now import access_token_refresh_now, user_session_refresh_now
from integrations.services.test_calls import test_call_run

UPSTREAM_ERRORS = {
    409: error_response("The credential's configuration cannot work (e.g. no secret set)."),
    502: error_response("The customer's token or authenticate endpoint failed."),
    504: error_response("The customer's API did not answer in time."),
}


class CustomerViewSet(ConfigViewSet):
    """Enterprise customers whose backend APIs the platform calls."""

    queryset = Customer.objects.all()
    serializer_class = serializers.CustomerSerializer
    filterset_class = filtersets.CustomerFilterSet
    ordering_fields = ["name", "slug", "created_at", "updated_at"]


class EnvironmentViewSet(DestinationWritesMixin, ConfigViewSet):
    """A customer's deployments (UAT, production): base URL, TLS and time limits."""

    queryset = Environment.objects.all()
    serializer_class = serializers.EnvironmentSerializer
    filterset_class = filtersets.EnvironmentFilterSet
    ordering_fields = ["name", "slug", "kind", "created_at", "updated_at"]


class OAuthClientViewSet(DestinationWritesMixin, ConfigViewSet):
    """System credentials (OAuth 2.0 client credentials grant), with their cached token's state."""

    queryset = OAuthClient.objects.select_related("access_token")
    serializer_class = serializers.OAuthClientSerializer
    filterset_class = filtersets.OAuthClientFilterSet
    ordering_fields = ["name", "client_id", "created_at", "updated_at"]

    @extend_schema(
        request=None, responses={200: serializers.TokenRefreshSerializer, **UPSTREAM_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: Any = None) -> Response:
        """Fetch a new access token now, even if the cached one is still valid.

        Returns when it was issued and when it expires; never the token itself.
        """
        issued = access_token_refresh_now(
            oauth_client=self.get_object(), actor=request.user, request=request
        )
        return Response(serializers.TokenRefreshSerializer(issued).data)


class CustomerAuthViewSet(DestinationWritesMixin, ConfigViewSet):
    """User-level authentication at the customer (token or cookie mode)."""

    queryset = CustomerAuth.objects.all()
    serializer_class = serializers.CustomerAuthSerializer
    filterset_class = filtersets.CustomerAuthFilterSet
    ordering_fields = ["name", "created_at", "updated_at"]


class TestUserViewSet(ConfigViewSet):
    """Test logins at the customer, with their cached session's state."""

    __test__ = False

    # The customer auth too: a failing session's cool-down reads when its settings changed.
    queryset = TestUser.objects.select_related("session", "customer_auth")
    serializer_class = serializers.TestUserSerializer
    filterset_class = filtersets.TestUserFilterSet
    ordering_fields = ["label", "username", "created_at", "updated_at"]

    @extend_schema(
        request=None, responses={200: serializers.TokenRefreshSerializer, **UPSTREAM_ERRORS}
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request: Request, pk: Any = None) -> Response:
        """Log the test user in at the customer now, even if the cached session is valid.

        Returns when the new JWT or cookie was issued and when it expires; never its value.
        """
        issued = user_session_refresh_now(
            test_user=self.get_object(), actor=request.user, request=request
        )
        return Response(serializers.TokenRefreshSerializer(issued).data)


class ApiKeyViewSet(ConfigViewSet):
    """API keys sent in a header to authorise specific customer APIs."""

    queryset = ApiKey.objects.all()
    serializer_class = serializers.ApiKeySerializer
    filterset_class = filtersets.ApiKeyFilterSet
    ordering_fields = ["name", "expires_on", "created_at", "updated_at"]


class EndpointViewSet(ConfigViewSet):
    """Customer business APIs: request templates, credentials, checks and probe schedule."""

    queryset = Endpoint.objects.select_related("health")
    serializer_class = serializers.EndpointSerializer
    filterset_class = filtersets.EndpointFilterSet
    ordering_fields = ["name", "slug", "method", "path", "created_at", "updated_at"]

    @extend_schema(
        request=None,
        responses={
            200: serializers.ProbeResultSerializer,
        },
    )
    @action(detail=True, methods=["post"])
    def probe(self, request: Request, pk: Any = None) -> Response:
        """Probe the endpoint now, outside its schedule, and return the probe's result."""
        endpoint = self.get_object()
        result = endpoint_probe_now(endpoint=endpoint)
        return Response(serializers.ProbeResultSerializer(result).data)


class EndpointTestCallsView(generics.ListCreateAPIView):
    """An endpoint's test calls, newest first; POST runs a new one."""

    serializer_class = serializers.TestCallSerializer
    queryset = TestCall.objects.none()  # for the schema; get_queryset narrows per endpoint

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return TestCall.objects.filter(endpoint_id=self.kwargs["pk"])

    @extend_schema(
        description="List the endpoint's test calls, newest first, with what went over the "
        "wire (redacted)."
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        get_object_or_404(Endpoint, pk=self.kwargs["pk"])
        return super().get(request, *args, **kwargs)

    @extend_schema(
        description="Run the endpoint once now, as the platform would, and store the "
        "redacted exchange. A failing customer API is a stored call with ok=false, not an "
        "error response.",
        request=serializers.TestCallRunSerializer,
        responses={201: serializers.TestCallSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = get_object_or_404(Endpoint, pk=self.kwargs["pk"])
        form = serializers.TestCallRunSerializer(data=request.data, context={"endpoint": endpoint})
        form.is_valid(raise_exception=True)
        call = test_call_run(
            endpoint=endpoint,
            test_user=form.validated_data.get("test_user"),
            actor=request.user,
            variables=form.validated_data.get("variables") or {},
            request=request._request,
        )
        return Response(serializers.TestCallSerializer(call).data, status=status.HTTP_201_CREATED)


class TestCallViewSet(HistoryViewSet):
    """Test calls of every endpoint: who ran what, and the redacted exchange."""

    __test__ = False

    queryset = TestCall.objects.all()
    serializer_class = serializers.TestCallSerializer
    filterset_class = filtersets.TestCallFilterSet
    ordering_fields = ["created_at", "status", "duration_ms"]


class ProbeResultViewSet(HistoryViewSet):
    """Raw probe results (kept a bounded number of days)."""

    queryset = ProbeResult.objects.order_by("-started_at", "-id")
    serializer_class = serializers.ProbeResultSerializer
    filterset_class = filtersets.ProbeResultFilterSet
    ordering_fields = ["started_at", "due_at", "latency_ms", "status"]


class EndpointHealthViewSet(HistoryViewSet):
    """Current health state of each endpoint, addressed by the endpoint's id."""

    queryset = EndpointHealth.objects.order_by("endpoint_id")
    serializer_class = serializers.EndpointHealthSerializer
    filterset_class = filtersets.EndpointHealthFilterSet
    ordering_fields = ["state", "state_since", "last_probe_at", "last_latency_ms"]


class HealthTransitionViewSet(HistoryViewSet):
    """Changes of endpoints' health state: from, to, when and why."""

    queryset = HealthTransition.objects.all()
    serializer_class = serializers.HealthTransitionSerializer
    filterset_class = filtersets.HealthTransitionFilterSet
    ordering_fields = ["at"]


class AuditEventViewSet(HistoryViewSet):
    """Who changed, ran, rotated or logged in. Field names only, never a value."""

    queryset = AuditEvent.objects.all()
    serializer_class = serializers.AuditEventSerializer
    filterset_class = filtersets.AuditEventFilterSet
    ordering_fields = ["at", "action", "actor_label"]
