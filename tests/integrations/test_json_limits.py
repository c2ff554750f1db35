"""Deeply nested JSON typed into the admin (endpoint templates, test call variables) is a
form error naming the limit, never a RecursionError's 500, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations.json_limits import JSON_MAX_DEPTH, JsonTooDeep, json_depth, json_loads_bounded
from integrations.models import Endpoint, TestCall
from tests.factories import make_endpoint
from tests.integrations.test_config_validation import admin_post

TOO_DEEP = f"more than {JSON_MAX_DEPTH} levels deep"


@pytest.mark.parametrize(
    ("value", "depth"), [(1, 0), ([], 1), ({"a": [1, {"b": "c"}]}, 3), ([[[]], []], 3)]
)
def test_json_depth_counts_arrays_and_objects(value: Any, depth: int) -> None:
    assert json_depth(value) == depth


@pytest.mark.parametrize("text", ["[" * 100_000, "[" * 65 + "]" * 65])
def test_bounded_loads_refuses_what_nests_too_deep(text: str) -> None:
    with pytest.raises(JsonTooDeep):
        json_loads_bounded(text)


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["body_template", "sample_variables", "headers_template"])
@pytest.mark.parametrize(
    "text", ["[" * 100_000, "[" * 900 + "]" * 900, '{"a":' * 70 + "1" + "}" * 70]
)
def test_the_endpoint_admin_refuses_deep_json_as_a_form_error(
    admin_client: Client, demo_endpoint: Endpoint, field: str, text: str
) -> None:
    before = getattr(demo_endpoint, field)
    url = reverse("admin:integrations_endpoint_change", args=[demo_endpoint.pk])
    response = admin_post(admin_client, url, **{field: text})
    assert response.status_code == 200
    assert TOO_DEEP in " ".join(response.context["adminform"].form.errors[field])
    demo_endpoint.refresh_from_db()
    assert getattr(demo_endpoint, field) == before


@pytest.mark.django_db
def test_the_admin_test_call_form_refuses_deep_variables(admin_client: Client) -> None:
    endpoint = make_endpoint()
    url = reverse("admin:integrations_endpoint_test_call", args=[endpoint.pk])
    response = admin_client.post(url, {"variables": "[" * 100_000})
    assert response.status_code == 200
    assert TOO_DEEP in " ".join(response.context["form"].errors["variables"])
    assert not TestCall.objects.exists()
