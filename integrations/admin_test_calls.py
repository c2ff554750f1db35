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
from integrations.models import Endpoint, TestCall
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
            "request_json": json.dumps(call.request, indent=2),
            "response_json": json.dumps(call.response, indent=2),
            "call": call,
        }
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), **pretty}
        )
