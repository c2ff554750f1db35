"""GET /api/v1/overview/: every customer and environment at a glance, as JSON.

The same rows as the overview page (integrations.selectors.overview), worst first and
paged like every API list: one aggregate orders every environment by health, four more
fill in the figures of the page's environments, however many endpoints there are.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations import clock
from integrations.api.pagination import PortalPagination
from integrations.choices import HealthState
from integrations.selectors import (
    EnvironmentOverview,
    overview,
    overview_complete,
    overview_totals,
)
from integrations.services.probe_recording import alert_channels

ALERTS_OFF_NOTICE = (
    "Alert delivery is off: set PORTAL_ALERT_WEBHOOK_URL or PORTAL_ALERT_EMAILS to deliver alerts."
)


class OverviewRowSerializer(serializers.Serializer):
    customer = serializers.CharField(source="customer_slug")
    customer_name = serializers.CharField()
    environment = serializers.CharField(source="environment_slug")
    environment_name = serializers.CharField()
    kind = serializers.CharField()
    is_enabled = serializers.BooleanField()
    state = serializers.ChoiceField(
        choices=HealthState.choices, help_text="The worst state of the probed endpoints."
    )
    states = serializers.DictField(
        child=serializers.IntegerField(), help_text="Probed endpoints per state."
    )
    endpoints = serializers.IntegerField(help_text="Probed endpoints.")
    last_probe_at = serializers.DateTimeField(allow_null=True)
    p95_ms = serializers.FloatField(
        allow_null=True,
        help_text="95th percentile latency over the last 24 h of rollups: the upper bound of "
        "the histogram bucket it falls in, not a measured value.",
    )
    failing_step = serializers.CharField(
        help_text="The failing step most unhealthy endpoints share; empty when none."
    )
    token_expires_at = serializers.DateTimeField(allow_null=True)
    token_expires_in_s = serializers.IntegerField(
        allow_null=True, help_text="Seconds until the nearest cached token expires."
    )
    credentials_failing = serializers.IntegerField(
        help_text="Credentials whose refresh failed TOKEN_FAILING_AFTER or more times in a row."
    )
    monitoring_gaps = serializers.IntegerField(
        help_text="Probed endpoints with no probe for two intervals: their state is not current."
    )


class AlertDeliverySerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="Whether state changes are delivered anywhere.")
    channels = serializers.ListField(child=serializers.CharField())
    notice = serializers.CharField(help_text="What to set when delivery is off; else empty.")


class OverviewSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Environments that match the filters.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    generated_at = serializers.DateTimeField()
    totals = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Probed endpoints per state over every matching environment.",
    )
    results = OverviewRowSerializer(many=True)
    alert_delivery = AlertDeliverySerializer()


class OverviewQuerySerializer(serializers.Serializer):
    customer = serializers.SlugField(required=False)
    state = serializers.ChoiceField(choices=HealthState.choices, required=False)


class OverviewView(APIView):
    """Health of every customer's environments, worst first."""

    @extend_schema(
        parameters=[
            OpenApiParameter("page", int, description="Page number (worst first)."),
            OpenApiParameter("page_size", int, description="Environments per page (50)."),
            OpenApiParameter("customer", str, description="Only this customer (slug)."),
            OpenApiParameter(
                "state",
                str,
                enum=HealthState.values,
                description="Only environments with at least one endpoint in this state.",
            ),
        ],
        responses=OverviewSerializer,
    )
    def get(self, request: Request) -> Response:
        query = OverviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = overview(**query.validated_data)
        paginator = PortalPagination()
        page = overview_complete(paginator.paginate_queryset(rows, request, view=self) or [])
        # Plain dicts in the shape OverviewSerializer documents: serializing rows field
        # by field through DRF would cost more than the queries.
        body = {
            "count": len(rows),
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "generated_at": clock.now(),
            "totals": overview_totals(rows),
            "results": [_row(row) for row in page],
            "alert_delivery": _alert_delivery(),
        }
        return Response(body)


def _alert_delivery() -> dict[str, Any]:
    channels = alert_channels()
    notice = "" if channels else ALERTS_OFF_NOTICE
    return {"enabled": bool(channels), "channels": channels, "notice": notice}


def _row(row: EnvironmentOverview) -> dict[str, Any]:
    return {
        "customer": row.customer_slug,
        "customer_name": row.customer_name,
        "environment": row.environment_slug,
        "environment_name": row.environment_name,
        "kind": row.kind,
        "is_enabled": row.is_enabled,
        "state": row.state,
        "states": row.states,
        "endpoints": row.endpoints,
        "last_probe_at": row.last_probe_at,
        "p95_ms": row.p95_ms,
        "failing_step": row.failing_step,
        "token_expires_at": row.token_expires_at,
        "token_expires_in_s": row.token_expires_in_s,
        "credentials_failing": row.credentials_failing,
        "monitoring_gaps": row.gaps,
    }
