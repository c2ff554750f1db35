"""A call whose templates lack a value is refused by the call service itself, before any
request: probes and onboarding's first call do not go through the test call form, and
an empty string sent to the customer would look like a real call that found nothing."""

from __future__ import annotations

from typing import Any

import pytest

from integrations import clock
from integrations.errors import TemplateError
from integrations.models import Endpoint, TestCall
from integrations.onboarding.checks import first_call_run
from integrations.services.calls import endpoint_call
from integrations.services.probes import endpoint_probe
from sandbox.messages import Request
from sandbox.server import SandboxHandler

pytestmark = pytest.mark.django_db


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> list[Request]:
    requests: list[Request] = []
    answer = SandboxHandler.answer

    def recording(handler: SandboxHandler, request: Request) -> Any:
        requests.append(request)
        return answer(handler, request)

    monkeypatch.setattr(SandboxHandler, "answer", recording)
    return requests


@pytest.fixture
def templated(demo_endpoint: Endpoint) -> Endpoint:
    demo_endpoint.path = "/account/getprofile?channel={channel}"
    demo_endpoint.sample_variables = {}
    demo_endpoint.save()
    return demo_endpoint


@pytest.mark.parametrize("given", [{}, {"channel": ""}])
def test_a_call_without_a_value_is_a_typed_error_and_sends_nothing(
    templated: Endpoint, received: list[Request], given: dict[str, str]
) -> None:
    result = endpoint_call(endpoint=templated, variables=given)

    assert isinstance(result.error, TemplateError) and result.error_code == "template_error"
    assert "'channel' (used in the path)" in result.error_message
    assert result.steps == [] and received == []


def test_a_probe_without_a_value_fails_naming_it_and_sends_nothing(
    templated: Endpoint, received: list[Request]
) -> None:
    outcome = endpoint_probe(endpoint=templated, due_at=clock.now())

    assert not outcome.ok and outcome.error_code == "template_error"
    assert "channel" in outcome.message
    assert received == []


def test_the_first_call_without_a_value_records_why_and_sends_no_business_call(
    templated: Endpoint, received: list[Request], admin_user: Any
) -> None:
    first = first_call_run(endpoint=templated, actor=admin_user, request=None)

    call = TestCall.objects.get()
    assert first.test_call == call and call.error_code == "template_error"
    assert call.request == {} and "channel" in call.error_message
    assert "/account/getprofile" not in [request.path for request in received]
