"""Forms of the portal's own pages."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from integrations.json_limits import json_loads_bounded
from integrations.models import Endpoint, TestUser
from integrations.services.call_variables import (
    VariableUse,
    call_variables_missing,
    endpoint_variable_uses,
    missing_variables_message,
)
from integrations.validators import call_variables_problems


class TestCallForm(forms.Form):
    """Pick a test user and fill the endpoint's template variables."""

    __test__ = False

    test_user = forms.ModelChoiceField(queryset=TestUser.objects.none(), required=False)
    variables = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        required=False,
        help_text='JSON object of template variables, e.g. {"order_id": "A-1001"}. '
        "A variable left out takes the endpoint's sample value.",
    )

    def __init__(self, *args: Any, endpoint: Endpoint, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint
        users = TestUser.objects.filter(customer_auth=endpoint.customer_auth_id, is_active=True)
        user_field = self.fields["test_user"]
        assert isinstance(user_field, forms.ModelChoiceField)
        user_field.queryset = users
        self.fields["test_user"].initial = endpoint.default_test_user_id
        self.given_variables: dict[str, str] = {}  # as parsed, kept for the page on an error
        self.variable_uses: list[VariableUse] = endpoint_variable_uses(endpoint=endpoint)
        # Only real samples: a pre-filled "" would be sent to the customer as the value.
        # A secret's sample is left out of the page; left out, the call still uses it.
        initial = {
            use.name: use.sample
            for use in self.variable_uses
            if use.sample is not None and not use.secret
        }
        self.fields["variables"].initial = json.dumps(initial)

    @property
    def variables_missing(self) -> list[VariableUse]:
        """Variables with no value yet: no sample, and none given in the submitted form."""
        return call_variables_missing(endpoint=self.endpoint, given=self.given_variables)

    def clean_variables(self) -> dict[str, str]:
        text = self.cleaned_data["variables"].strip() or "{}"
        try:
            value = json_loads_bounded(text)
        except ValueError as error:  # JsonTooDeep is one
            raise forms.ValidationError(f"Not valid JSON: {error}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("Must be a JSON object.")
        variables = {str(k): str(v) for k, v in value.items()}
        if problems := call_variables_problems(self.endpoint.headers_template, variables):
            raise forms.ValidationError(problems)
        self.given_variables = variables
        if missing := call_variables_missing(endpoint=self.endpoint, given=variables):
            raise forms.ValidationError(missing_variables_message(missing))
        return variables
