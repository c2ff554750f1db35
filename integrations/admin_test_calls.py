"""Admin pages for test calls: run one from an endpoint, read what went over the wire."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from integrations.forms import TestCallForm
from integrations.json_limits import json_loads_bounded
from integrations.models import Endpoint, TestCall, TestUser
from integrations.services.call_variables import call_variables_merge
from integrations.services.calls import endpoint_secrets
from integrations.services.curl import curl_script, curl_unset_variables
from integrations.services.templates import template_secrets
from integrations.services.test_call_trace import TraceStep, test_call_trace
from integrations.services.test_calls import test_call_run


class EndpointTestCallMixin:
    """Adds 'Run test call' to the endpoint admin."""

    def get_urls(self) -> list[Any]:
        extra = [
            path(
                "<int:endpoint_id>/test-call/",
                self.admin_site.admin_view(self.test_call_view),  # type: ignore[attr-defined]
                name="integrations_endpoint_test_call",
            )
        ]
        return extra + super().get_urls()  # type: ignore[misc]

    def test_call_view(self, request: HttpRequest, endpoint_id: int) -> HttpResponse:
        endpoint = get_object_or_404(
            Endpoint.objects.select_related("environment__customer"), pk=endpoint_id
        )
        if not self.has_change_permission(request, endpoint):  # type: ignore[attr-defined]
            return HttpResponse(status=403)
        form = TestCallForm(request.POST or None, endpoint=endpoint)
        if request.method == "POST" and form.is_valid():
            call = test_call_run(
                endpoint=endpoint,
                test_user=form.cleaned_data["test_user"],
                actor=request.user,
                variables=form.cleaned_data["variables"],
                request=request,
            )
            return HttpResponseRedirect(
                reverse("admin:integrations_testcall_change", args=[call.pk])
            )
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": f"Run a test call: {endpoint.name}",
            "endpoint": endpoint,
            "form": form,
            "opts": Endpoint._meta,
            "recent": endpoint.test_calls.all()[:10],
            "curl": (curl := _curl_preview(endpoint, form)),
            "curl_unset": curl_unset_variables(curl),
        }
        return TemplateResponse(request, "admin/integrations/endpoint/test_call.html", context)


@admin.register(TestCall)
class TestCallAdmin(admin.ModelAdmin):
    """Read-only record of test calls, listed per endpoint."""

    list_display = [
        "created_at",
        "endpoint",
        "test_user",
        "actor_label",
        "status",
        "ok",
        "error_code",
        "duration_ms",
    ]
    list_filter = ["ok", "endpoint__environment__customer", "endpoint"]
    list_select_related = ["endpoint__environment__customer", "test_user"]
    change_form_template = "admin/integrations/testcall/detail.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        call = get_object_or_404(TestCall.objects.select_related("endpoint"), pk=object_id)
        pretty = {
            "trace": [_shown(step) for step in test_call_trace(call=call)],
            "curl_unset": curl_unset_variables(call.curl),
            "call": call,
        }
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), **pretty}
        )


def _curl_preview(endpoint: Endpoint, form: TestCallForm) -> str:
    """'Copy as curl' before any call, from the samples and what the form was given."""
    picked = form.cleaned_data.get("test_user") if hasattr(form, "cleaned_data") else None
    user: TestUser | None = picked or endpoint.default_test_user
    values = call_variables_merge(endpoint=endpoint, given=form.given_variables)
    secrets = endpoint_secrets(endpoint=endpoint, test_user=user)
    secrets += template_secrets(headers={}, body=None, variables=values)
    return curl_script(endpoint=endpoint, test_user=user, variables=values, secrets=secrets)


def _shown(step: TraceStep) -> dict[str, Any]:
    """A trace step with its request and response as they read on the wire."""
    return {
        "step": step,
        "request_text": _request_text(step.request) if step.request else "",
        "response_text": _response_text(step.response) if step.response else "",
    }


def _request_text(request: dict[str, Any]) -> str:
    head = f"{request.get('method', '')} {request.get('url', '')}"
    return _message(head, request.get("headers"), request.get("body"))


def _response_text(response: dict[str, Any]) -> str:
    head = f"HTTP {response.get('status')} {response.get('reason', '')}".rstrip()
    return _message(head, response.get("headers"), response.get("body"))


def _message(head: str, headers: Any, body: Any) -> str:
    pairs = headers.items() if isinstance(headers, dict) else headers or []
    lines = [head, *(f"{name}: {value}" for name, value in pairs)]
    return "\n".join(lines) + "\n\n" + _pretty(body)


def _pretty(body: Any) -> str:
    """A JSON body indented for reading; anything else as it was stored."""
    if not isinstance(body, str):
        return "" if body is None else json.dumps(body, indent=2)
    try:
        # Bounded: a customer's deeply nested answer is shown as it came, not a RecursionError.
        return json.dumps(json_loads_bounded(body), indent=2, ensure_ascii=False)
    except ValueError:  # JsonTooDeep is one
        return body
