"""Filters of every API list (django-filter). Parents filter by id; customers also by slug.

A date or time that cannot be filtered on is a 400 naming its query parameter
(``invalid_datetime`` / ``invalid_date``), never a 500: PostgreSQL stores UTC offsets up
to 15:59 only, and a moment at the edge of years 1 and 9999 may not survive conversion
to UTC, so both are refused here, before a query is built.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django import forms
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from django_filters.widgets import SuffixedMultiWidget
from rest_framework import status

from integrations.api.errors import PortalApiError
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

# PostgreSQL's limit for a time zone displacement (it refuses -16:00 with a DataError).
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)
DATETIME_HINT = "an ISO 8601 date and time such as 2026-01-01T00:00:00Z or ...+02:00"


class StorableIsoDateTimeField(filter_fields.IsoDateTimeField):
    """ISO 8601 with a UTC offset within ±15:59 and a UTC value within years 1 to 9999."""

    default_error_messages = {"invalid": f"Enter {DATETIME_HINT}."}

    def to_python(self, value: Any) -> datetime | None:
        moment = super().to_python(value)
        if moment is not None:
            _check_storable(moment)
        return moment


def _check_storable(moment: datetime) -> None:
    offset = moment.utcoffset() or timedelta(0)
    if abs(offset) > MAX_UTC_OFFSET:
        raise forms.ValidationError(
            "The UTC offset must be between -15:59 and +15:59.", code="invalid_datetime"
        )
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise forms.ValidationError(
            "The moment falls outside the years 1 to 9999 once converted to UTC.",
            code="invalid_datetime",
        ) from None


class StorableIsoDateTimeRangeField(filter_fields.RangeField):
    widget = filter_fields.DateRangeWidget

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = (StorableIsoDateTimeField(), StorableIsoDateTimeField())
        super().__init__(fields, *args, **kwargs)


class DateTimeRangeFilter(filters.IsoDateTimeFromToRangeFilter):
    """``<name>_after`` / ``<name>_before``, each a storable ISO 8601 date and time."""

    field_class = StorableIsoDateTimeRangeField


class PortalFilterSet(filters.FilterSet):
    """Base of every API filter set: bad dates are a typed 400 naming the parameter."""

    def is_valid(self) -> bool:
        # Raised here rather than left to the form: its errors name the filter
        # ("created"), not the query parameter the caller sent ("created_after").
        problems = list(self._date_problems())
        if problems:
            raise invalid_date_parameters(problems)
        return bool(super().is_valid())

    def _date_problems(self) -> Iterator[DateProblem]:
        for name, filter_ in self.filters.items():
            for param, field in _date_parameters(name, filter_.field):
                raw = self.data.get(param)
                if raw in (None, ""):
                    continue
                try:
                    field.clean(raw)
                except forms.ValidationError as error:
                    yield DateProblem(param, error.messages, isinstance(field, forms.DateTimeField))


class DateProblem(NamedTuple):
    param: str
    messages: list[str]
    with_time: bool


def _date_parameters(name: str, field: forms.Field) -> Iterator[tuple[str, forms.Field]]:
    """(query parameter, form field) of each date or date-time input of one filter."""
    dated = (forms.DateField, forms.DateTimeField)
    if isinstance(field, forms.MultiValueField) and isinstance(field.widget, SuffixedMultiWidget):
        for suffix, subfield in zip(field.widget.suffixes, field.fields, strict=True):
            if isinstance(subfield, dated):
                yield field.widget.suffixed(name, suffix), subfield
    elif isinstance(field, dated):
        yield name, field


def invalid_date_parameters(problems: list[DateProblem]) -> PortalApiError:
    """``invalid_datetime`` (or ``invalid_date``) naming the first bad parameter."""
    first = problems[0]
    return PortalApiError(
        f"Invalid {first.param}: {first.messages[0]}",
        code="invalid_datetime" if any(p.with_time for p in problems) else "invalid_date",
        status_code=status.HTTP_400_BAD_REQUEST,
        details={p.param: p.messages for p in problems},
    )


class IdFilter(filters.NumberFilter):
    """An integer id (NumberFilter alone would accept 1.5 and round it)."""

    field_class = forms.IntegerField


def customer_slug(path: str) -> filters.CharFilter:
    return filters.CharFilter(field_name=f"{path}slug", label="Customer slug")


class CustomerFilterSet(PortalFilterSet):
    class Meta:
        model = Customer
        fields = {"slug": ["exact"], "name": ["exact", "icontains"], "is_active": ["exact"]}


class EnvironmentFilterSet(PortalFilterSet):
    customer = IdFilter(field_name="customer_id")
    customer_slug = customer_slug("customer__")

    class Meta:
        model = Environment
        fields = ["slug", "kind", "is_enabled"]


class OAuthClientFilterSet(PortalFilterSet):
    environment = IdFilter(field_name="environment_id")
    customer_slug = customer_slug("environment__customer__")

    class Meta:
        model = OAuthClient
        fields = ["name", "client_id", "auth_style"]


class CustomerAuthFilterSet(PortalFilterSet):
    environment = IdFilter(field_name="environment_id")
    customer_slug = customer_slug("environment__customer__")

    class Meta:
        model = CustomerAuth
        fields = ["name", "mode"]


class TestUserFilterSet(PortalFilterSet):
    __test__ = False

    customer_auth = IdFilter(field_name="customer_auth_id")
    environment = IdFilter(field_name="customer_auth__environment_id")
    customer_slug = customer_slug("customer_auth__environment__customer__")

    class Meta:
        model = TestUser
        fields = ["label", "is_active"]


class ApiKeyFilterSet(PortalFilterSet):
    environment = IdFilter(field_name="environment_id")
    customer_slug = customer_slug("environment__customer__")
    expires = filters.DateFromToRangeFilter(field_name="expires_on")

    class Meta:
        model = ApiKey
        fields = ["name", "header_name"]


class EndpointFilterSet(PortalFilterSet):
    environment = IdFilter(field_name="environment_id")
    customer_slug = customer_slug("environment__customer__")
    state = filters.ChoiceFilter(field_name="health__state", choices=HealthState.choices)

    class Meta:
        model = Endpoint
        fields = ["slug", "method", "probe_enabled"]


class TestCallFilterSet(PortalFilterSet):
    __test__ = False

    endpoint = IdFilter(field_name="endpoint_id")
    customer_slug = customer_slug("endpoint__environment__customer__")
    created = DateTimeRangeFilter(field_name="created_at")

    class Meta:
        model = TestCall
        fields = ["ok", "status", "error_code", "actor_label"]


class ProbeResultFilterSet(PortalFilterSet):
    endpoint = IdFilter(field_name="endpoint_id")
    customer_slug = customer_slug("endpoint__environment__customer__")
    started = DateTimeRangeFilter(field_name="started_at")

    class Meta:
        model = ProbeResult
        fields = ["ok", "status", "error_class", "error_code", "failing_step", "missed_reason"]


class EndpointHealthFilterSet(PortalFilterSet):
    environment = IdFilter(field_name="endpoint__environment_id")
    customer_slug = customer_slug("endpoint__environment__customer__")

    class Meta:
        model = EndpointHealth
        fields = ["state", "last_error_class"]


class HealthTransitionFilterSet(PortalFilterSet):
    endpoint = IdFilter(field_name="endpoint_id")
    customer_slug = customer_slug("endpoint__environment__customer__")
    at = DateTimeRangeFilter(field_name="at")

    class Meta:
        model = HealthTransition
        fields = ["from_state", "to_state"]


class AuditEventFilterSet(PortalFilterSet):
    at = DateTimeRangeFilter(field_name="at")
    actor = IdFilter(field_name="actor_id")

    class Meta:
        model = AuditEvent
        fields = ["action", "object_type", "object_id", "actor_label"]
