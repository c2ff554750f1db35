"""The endpoint's admin form, on its own page and in the environment page's rows.

Credential and test-user dropdowns offer the endpoint's own environment; a customer
auth with one active test user is the endpoint's default test user unless one is
picked; the identifier fields that do not apply to the chosen location are not kept.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.forms.models import BaseInlineFormSet

from integrations.admin_forms import AddedRowForm
from integrations.choices import IdentifierLocation
from integrations.models import ApiKey, CustomerAuth, Endpoint, OAuthClient, TestUser
from integrations.services.test_user_defaults import default_test_user_for

CREDENTIALS: dict[str, type[Model]] = {
    "oauth_client": OAuthClient,
    "customer_auth": CustomerAuth,
    "api_key": ApiKey,
}
DEFAULT_HEADER = Endpoint._meta.get_field("identifier_header").get_default()


def credential_querysets(environment_id: int | None) -> dict[str, QuerySet[Any]]:
    """Each credential dropdown's rows: of one environment, or of all (ordered by it)."""
    where = {} if environment_id is None else {"environment_id": environment_id}
    querysets: dict[str, QuerySet[Any]] = {
        name: model._default_manager.filter(**where).select_related("environment__customer")
        for name, model in CREDENTIALS.items()
    }
    users = {} if environment_id is None else {"customer_auth__environment_id": environment_id}
    querysets["default_test_user"] = TestUser.objects.filter(**users).select_related(
        "customer_auth__environment__customer"
    )
    return querysets


def _grouped(field: forms.ModelChoiceField, queryset: QuerySet[Any]) -> list[Any]:
    """The field's choices grouped by environment, as <optgroup>s."""
    groups: dict[str, list[tuple[Any, str]]] = {}
    for obj in queryset:
        groups.setdefault(str(_environment_of(obj)), []).append(
            (obj.pk, field.label_from_instance(obj))
        )
    return [("", field.empty_label or "---------"), *groups.items()]


class EndpointForm(AddedRowForm):
    """Endpoint admin form: scoped dropdowns, default test user, identifier as sent."""

    def __init__(self, *args: Any, environment_id: int | None = None, **kwargs: Any) -> None:
        """``environment_id``: the environment of an inline's rows, whose added rows do not
        know it yet (scoping them to all environments would read every customer's rows)."""
        super().__init__(*args, **kwargs)
        self.scope_to(self._environment_id() if environment_id is None else environment_id)

    def scope_to(self, environment_id: int | None) -> None:
        """Offer one environment's credentials; None (an add page): all, grouped."""
        for name, queryset in credential_querysets(environment_id).items():
            field = self.fields.get(name)
            if not isinstance(field, forms.ModelChoiceField):
                continue
            field.queryset = queryset
            if environment_id is None:
                # On the widget only: the field keeps validating against its queryset.
                field.widget.choices = _grouped(field, queryset)

    def _environment_id(self) -> int | None:
        known = self.instance.environment_id or self.initial.get("environment")
        if not known:
            return None  # a new endpoint whose environment is not chosen yet
        if self.is_bound and "environment" in self.fields:
            return _id_or_none(self.data.get(self.add_prefix("environment")))
        return _id_or_none(known)  # an add page's ?environment= may be any text

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self._default_test_user(cleaned)
        self._identifier_as_sent(cleaned)
        return cleaned

    def _default_test_user(self, cleaned: dict[str, Any]) -> None:
        shown = "customer_auth" in self.fields
        auth = cleaned.get("customer_auth") if shown else self.instance.customer_auth
        if "default_test_user" not in self.fields:  # a row of the environment page
            current = self.instance.default_test_user
            self.instance.default_test_user = default_test_user_for(
                customer_auth=auth, current=current
            )
        elif cleaned.get("default_test_user") is None:  # one picked: the model's clean() judges
            cleaned["default_test_user"] = default_test_user_for(customer_auth=auth, current=None)

    def _identifier_as_sent(self, cleaned: dict[str, Any]) -> None:
        """Keep only what the chosen location sends: a header name for a header, a body
        field for the body. The format is kept as typed: in a body or cookie the guide's
        "JWT {token}" sends the bare token (services.identifier.effective_format), and
        kept, it still reads "JWT " if the endpoint goes back to a header."""
        location = cleaned.get("identifier_location")
        if location is None:
            return
        if location != IdentifierLocation.HEADER and _well_formed(cleaned, "identifier_header"):
            cleaned["identifier_header"] = DEFAULT_HEADER  # not sent; cannot be blank
        if location != IdentifierLocation.BODY and _well_formed(cleaned, "identifier_body_field"):
            cleaned["identifier_body_field"] = ""


def _well_formed(cleaned: dict[str, Any], name: str) -> bool:
    """Whether field ``name`` holds a value its save rule accepts. A malformed one (a line
    break in a header name) is refused on its row even where it would not be sent."""
    if name not in cleaned:
        return False
    try:
        Endpoint.save_rules[name](cleaned[name])
    except ValidationError:
        return False
    return True


def _id_or_none(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _environment_of(obj: Any) -> Any:
    return obj.environment if hasattr(obj, "environment") else obj.customer_auth.environment


class EnvironmentEndpointsFormSet(BaseInlineFormSet):
    """The environment page's endpoint rows offer that environment's credentials only."""

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        kwargs = super().get_form_kwargs(index)
        if issubclass(self.form, EndpointForm):
            kwargs["environment_id"] = self.instance.pk or 0  # a new one has no credentials
        return kwargs
