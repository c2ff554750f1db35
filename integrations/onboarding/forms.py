"""The flow's forms: each parses one step's inputs; the step's service validates the row.

Secret inputs are the admin's write-only ones (integrations.admin_forms): rendered empty,
never filled from the stored value, blank keeps what is stored.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from integrations.admin_forms import AdminModelForm, WriteOnlySecretsForm, secret_field_names
from integrations.choices import IdentifierLocation
from integrations.json_limits import BoundedJSONFormField
from integrations.models import (
    ApiKey,
    Customer,
    CustomerAuth,
    Endpoint,
    Environment,
    OAuthClient,
    TestUser,
)

SECRET_NOT_KEPT = (
    "Not saved: a secret is never sent back to your browser, so enter it again "
    "together with the corrections."
)


class StepForm(AdminModelForm):
    """A step's inputs, parsed. The row is validated whole by the step's service
    (Model.full_clean), which also sees the fields this form does not show; its
    errors come back through ``errors_show``, shown as the admin shows them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in secret_field_names(self._meta.model):
            if name in self.fields:  # never rendered back, in any form: typed again instead
                self.fields[name].widget = forms.PasswordInput(
                    render_value=False, attrs={"autocomplete": "off"}
                )

    def _post_clean(self) -> None:
        pass  # no model validation here: the service runs it on the row it writes

    def errors_show(self, error: ValidationError) -> None:
        """Put a row's errors on the form; a field it does not show is named in words."""
        self._update_errors(error)
        self.secrets_not_kept()

    def secrets_not_kept(self) -> None:
        """Say at each secret typed into a refused form that it must be typed again."""
        for name in secret_field_names(self._meta.model):
            typed = self.data.get(self.add_prefix(name))
            if name in self.fields and typed and name not in self.errors:
                self.add_error(name, SECRET_NOT_KEPT)


class CustomerForm(StepForm):
    slug = forms.SlugField(
        max_length=80,
        required=False,
        help_text="Its name in URLs, e.g. acme-bank. Leave blank to make it from the name.",
    )

    class Meta:
        model = Customer
        fields = ["name", "slug"]


class EnvironmentForm(StepForm):
    slug = forms.SlugField(
        max_length=80,
        required=False,
        help_text="Its name in URLs, e.g. uat. Leave blank to make it from the name.",
    )

    class Meta:
        model = Environment
        fields = ["name", "slug", "kind", "base_url"]
        widgets = {"base_url": forms.URLInput(attrs={"placeholder": "https://api.example.com"})}


class OAuthClientForm(StepForm, WriteOnlySecretsForm):
    class Meta:
        model = OAuthClient
        fields = ["token_url", "client_id", "client_secret", "scope", "auth_style"]
        labels = {"token_url": "Token URL", "client_id": "Client ID"}


class CustomerAuthForm(StepForm):
    class Meta:
        model = CustomerAuth
        fields = ["authenticate_url", "mode", "cookie_name"]
        labels = {"authenticate_url": "Authenticate URL"}


class TestUserForm(StepForm, WriteOnlySecretsForm):
    __test__ = False  # a form, not a pytest test class

    label = forms.CharField(
        max_length=100,
        required=False,
        help_text="How the portal names this login, e.g. alice-uat. Blank: the username.",
    )

    class Meta:
        model = TestUser
        fields = ["label", "username", "password"]
        help_texts = {"username": "A test login at the customer, never a real customer's."}


class ApiKeyForm(StepForm, WriteOnlySecretsForm):
    class Meta:
        model = ApiKey
        fields = ["header_name", "value", "expires_on"]
        widgets = {"expires_on": forms.DateInput(attrs={"type": "date"})}
        help_texts = {"expires_on": "Optional: the portal warns before the key expires."}


class EndpointForm(StepForm):
    """The guide's getprofile call, pre-filled; which credentials it sends is the flow's."""

    headers_template = BoundedJSONFormField(
        required=False,
        label="Headers",
        help_text='JSON object of extra headers; the guide sends {"content-type": '
        '"application/json"}.',
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    body_template = BoundedJSONFormField(
        required=False,
        label="Body",
        help_text="JSON body template: {} as the guide's calls send; blank to send no body.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    send_access_token = forms.BooleanField(
        required=False, initial=True, label="Send the OAuth access token (Authorization: Bearer)"
    )
    send_api_key = forms.BooleanField(required=False, initial=True, label="Send the API key")

    class Meta:
        model = Endpoint
        fields = [
            "name",
            "method",
            "path",
            "headers_template",
            "body_template",
            "identifier_location",
            "identifier_header",
            "identifier_format",
            "identifier_body_field",
            "probe_interval_s",
        ]
        labels = {"probe_interval_s": "Probe interval (seconds)"}

    def __init__(self, *args: Any, has_oauth: bool, has_auth: bool, has_key: bool, **kw: Any):
        super().__init__(*args, **kw)
        if self.instance.pk:
            self.initial["send_access_token"] = self.instance.oauth_client_id is not None
            self.initial["send_api_key"] = self.instance.api_key_id is not None
        else:
            self.initial["name"] = self.initial.get("name") or "Get profile"
        if not has_oauth:
            del self.fields["send_access_token"]
        if not has_key:
            del self.fields["send_api_key"]
        if not has_auth:  # nothing to send the identifier of: the step before was skipped
            location = self.fields["identifier_location"]
            assert isinstance(location, forms.ChoiceField)
            location.choices = [(IdentifierLocation.NONE, IdentifierLocation.NONE.label)]
            self.initial["identifier_location"] = IdentifierLocation.NONE
