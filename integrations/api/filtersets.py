"""Filters of every API list (django-filter). Parents filter by id; customers also by slug."""

from __future__ import annotations

from django import forms
from django_filters import rest_framework as filters

from integrations.choices import HealthState
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


class IdFilter(filters.NumberFilter):
    """An integer id (NumberFilter alone would accept 1.5 and round it)."""

    field_class = forms.IntegerField


def customer_slug(path: str) -> filters.CharFilter:
    return filters.CharFilter(field_name=f"{path}slug", label="Customer slug")


class CustomerFilterSet(filters.FilterSet):
    class Meta:
        model = Customer
        fields = {"slug": ["exact"], "name": ["exact", "icontains"], "is_active": ["exact"]}


class EnvironmentFilterSet(filters.FilterSet):
    customer = IdFilter(field_name="customer_id")
    customer_slug = customer_slug("customer__")

    class Meta:
        model = Environment
        fields = ["slug", "kind", "is_enabled"]


class OAuthClientFilterSet(filters.FilterSet):
    environment = IdFilter(field_name="environment_id")
    customer_slug = customer_slug("environment__customer__")

    class Meta:
        model = OAuthClient
        fields = ["name", "client_id", "auth_style"]


class CustomerAuthFilterSet(filters.FilterSet):
    environment = IdFilter(field_name="environment_id")
    customer_slug = customer_slug("environment__customer__")

    class Meta:
        model = CustomerAuth
        fields = ["name", "mode"]


class TestUserFilterSet(filters.FilterSet):
    __test__ = False

    customer_auth = IdFilter(field_name="customer_auth_id")
    environment = IdFilter(field_name="customer_auth__environment_id")
    customer_slug = customer_slug("customer_auth__environment__customer__")

    class Meta:
        model = TestUser
        fields = ["label", "is_active"]


class ApiKeyFilterSet(filters.FilterSet):
    environment = IdFilter(field_name="environment_id")
    customer_slug = customer_slug("environment__customer__")
    expires = filters.DateFromToRangeFilter(field_name="expires_on")

    class Meta:
        model = ApiKey
        fields = ["name", "header_name"]


class EndpointFilterSet(filters.FilterSet):
    environment = IdFilter(field_name="environment_id")
    customer_slug = customer_slug("environment__customer__")
    state = filters.ChoiceFilter(field_name="health__state", choices=HealthState.choices)

    class Meta:
        model = Endpoint
        fields = ["slug", "method", "probe_enabled"]


class TestCallFilterSet(filters.FilterSet):
    __test__ = False

    endpoint = IdFilter(field_name="endpoint_id")
    customer_slug = customer_slug("endpoint__environment__customer__")
    created = filters.IsoDateTimeFromToRangeFilter(field_name="created_at")

    class Meta:
        model = TestCall
        fields = ["ok", "status", "error_code", "actor_label"]


class ProbeResultFilterSet(filters.FilterSet):
    endpoint = IdFilter(field_name="endpoint_id")
    customer_slug = customer_slug("endpoint__environment__customer__")
    started = filters.IsoDateTimeFromToRangeFilter(field_name="started_at")

    class Meta:
        model = ProbeResult
        fields = ["ok", "status", "error_class", "error_code", "failing_step"]


class EndpointHealthFilterSet(filters.FilterSet):
    environment = IdFilter(field_name="endpoint__environment_id")
    customer_slug = customer_slug("endpoint__environment__customer__")

    class Meta:
        model = EndpointHealth
        fields = ["state", "last_error_class"]


class HealthTransitionFilterSet(filters.FilterSet):
    endpoint = IdFilter(field_name="endpoint_id")
    customer_slug = customer_slug("endpoint__environment__customer__")
    at = filters.IsoDateTimeFromToRangeFilter(field_name="at")

    class Meta:
        model = HealthTransition
        fields = ["from_state", "to_state"]


class AuditEventFilterSet(filters.FilterSet):
    at = filters.IsoDateTimeFromToRangeFilter(field_name="at")
    actor = IdFilter(field_name="actor_id")

    class Meta:
        model = AuditEvent
        fields = ["action", "object_type", "object_id", "actor_label"]
