"""Forms of the portal's own pages."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from integrations.json_limits import json_loads_bounded
from integrations.models import Endpoint, TestUser
from integrations.services.templates import template_variables
from integrations.validators import call_variables_problems


class TestCallForm(forms.Form):
    """Pick a test user and fill the endpoint's template variables."""

    __test__ = False

    test_user = forms.ModelChoiceField(queryset=TestUser.objects.none(), required=False)
    variables = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        required=False,
        help_text='JSON object of template variables, e.g. {"order_id": "A-1001"}',
    )

    def __init__(self, *args: Any, endpoint: Endpoint, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint
        users = TestUser.objects.filter(customer_auth=endpoint.customer_auth_id, is_active=True)
        user_field = self.fields["test_user"]
        assert isinstance(user_field, forms.ModelChoiceField)
        user_field.queryset = users
        self.fields["test_user"].initial = endpoint.default_test_user_id
        names = template_variables(endpoint.path, endpoint.headers_template, endpoint.body_template)
        samples = endpoint.sample_variables or {}
        initial = {n: str(samples.get(n, "")) for n in names}
        self.fields["variables"].initial = json.dumps(initial) if names else "{}"

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
        return variables
