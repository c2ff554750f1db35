"""Endpoints whose templates need values: sample variables feed probes, checks and test calls."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.forms import TestCallForm
from integrations.models import Endpoint
from integrations.services.probe_runs import endpoint_probe_now
from integrations.services.test_calls import test_call_run
from tests.integrations.api_world import client_as, error_of
from tests.integrations.readiness_support import run_checks

pytestmark = pytest.mark.django_db


@pytest.fixture
def templated(demo_endpoint: Endpoint) -> Endpoint:
    """The demo endpoint with a header that needs an {order_ref} value."""
    demo_endpoint.headers_template = {**demo_endpoint.headers_template, "x-order": "{order_ref}"}
    demo_endpoint.save()
    return demo_endpoint


def test_a_probe_without_a_value_fails_naming_the_variable(templated: Endpoint) -> None:
    result = endpoint_probe_now(endpoint=templated)
    assert not result.ok
    assert result.failing_step == "configuration"
    assert "order_ref" in result.message


def test_a_probe_uses_the_sample_values(templated: Endpoint) -> None:
    templated.sample_variables = {"order_ref": "A-1001"}
    templated.save()
    result = endpoint_probe_now(endpoint=templated)
    assert result.ok, result.message


def test_a_test_call_takes_the_samples_as_defaults_and_the_callers_values_first(
    templated: Endpoint, admin_user: Any
) -> None:
    templated.sample_variables = {"order_ref": "A-1001"}
    templated.save()
    form = TestCallForm(endpoint=templated)
    assert '"order_ref": "A-1001"' in form.fields["variables"].initial
    default = test_call_run(endpoint=templated, test_user=None, actor=admin_user)
    given = test_call_run(
        endpoint=templated, test_user=None, actor=admin_user, variables={"order_ref": "B-2"}
    )
    assert default.ok and given.ok
    assert ("x-order", "A-1001") in [tuple(h) for h in default.request["headers"]]
    assert ("x-order", "B-2") in [tuple(h) for h in given.request["headers"]]


def test_readiness_endpoint_checks_render_with_the_samples(templated: Endpoint) -> None:
    before = run_checks(templated.environment, "endpoint.accepts_complete_call")
    assert [r["verdict"] for r in before] == ["fail"]
    templated.sample_variables = {"order_ref": "A-1001"}
    templated.save()
    after = run_checks(templated.environment, "endpoint.accepts_complete_call")
    assert [r["verdict"] for r in after] == ["pass"]


def test_the_api_refuses_sample_values_that_are_not_scalars(templated: Endpoint) -> None:
    response = client_as("engineer").patch(
        f"/api/v1/endpoints/{templated.pk}/",
        {"sample_variables": {"order_ref": {"nested": True}}},
        format="json",
    )
    assert response.status_code == 400
    assert list(error_of(response)["details"]) == ["sample_variables"]
    ok = client_as("engineer").patch(
        f"/api/v1/endpoints/{templated.pk}/",
        {"sample_variables": {"order_ref": "A-1001"}},
        format="json",
    )
    assert ok.status_code == 200 and ok.json()["sample_variables"] == {"order_ref": "A-1001"}
