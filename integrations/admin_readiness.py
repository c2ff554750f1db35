"""Admin pages for readiness reports: run one from an environment, read and export it."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from integrations.models import Environment, ReadinessReport
from integrations.services.readiness import (
    readiness_compare,
    readiness_json,
    readiness_markdown,
    readiness_previous,
    readiness_run,
)


class EnvironmentReadinessMixin:
    """Adds 'Run readiness report' to the environment admin (see its change_form.html)."""

    def get_urls(self) -> list[Any]:
        extra = [
            path(
                "<int:environment_id>/readiness/",
                self.admin_site.admin_view(require_POST(self.readiness_run_view)),  # type: ignore[attr-defined]
                name="integrations_environment_readiness",
            )
        ]
        return extra + super().get_urls()  # type: ignore[misc]

    def readiness_run_view(self, request: HttpRequest, environment_id: int) -> HttpResponse:
        environment = get_object_or_404(
            Environment.objects.select_related("customer"), pk=environment_id
        )
        # Running sends requests to the customer with its credentials: change permission.
        if not self.has_change_permission(request, environment):  # type: ignore[attr-defined]
            return HttpResponse(status=403)
        report = readiness_run(environment=environment, actor=request.user)
        messages.info(request, f"Readiness report finished: {report.summary_text()}.")
        return HttpResponseRedirect(
            reverse("admin:integrations_readinessreport_change", args=[report.pk])
        )


@admin.register(ReadinessReport)
class ReadinessReportAdmin(admin.ModelAdmin):
    """Read-only record of readiness reports, with the comparison and the exports."""

    list_display = [
        "started_at",
        "environment",
        "is_ready",
        "pass_count",
        "warn_count",
        "fail_count",
        "error_count",
        "actor_label",
    ]
    list_filter = ["environment__customer", "environment"]
    list_select_related = ["environment__customer"]
    change_form_template = "admin/integrations/readinessreport/detail.html"

    @admin.display(boolean=True, description="ready")
    def is_ready(self, report: ReadinessReport) -> bool:
        return report.is_ready

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        extra = [
            path(
                "<int:report_id>/export.json",
                view(self.export_json_view),
                name="integrations_readinessreport_json",
            ),
            path(
                "<int:report_id>/export.md",
                view(self.export_markdown_view),
                name="integrations_readinessreport_markdown",
            ),
        ]
        return extra + super().get_urls()

    def _report(self, request: HttpRequest, report_id: Any) -> ReadinessReport | None:
        report = get_object_or_404(
            ReadinessReport.objects.select_related("environment__customer"), pk=report_id
        )
        return report if self.has_view_permission(request, report) else None

    def export_json_view(self, request: HttpRequest, report_id: int) -> HttpResponse:
        report = self._report(request, report_id)
        if report is None:
            return HttpResponse(status=403)
        response = JsonResponse(readiness_json(report), json_dumps_params={"indent": 2})
        return _attachment(response, report, "json")

    def export_markdown_view(self, request: HttpRequest, report_id: int) -> HttpResponse:
        report = self._report(request, report_id)
        if report is None:
            return HttpResponse(status=403)
        response = HttpResponse(readiness_markdown(report), content_type="text/markdown")
        return _attachment(response, report, "md")

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        report = self._report(request, object_id)
        if report is None:
            return HttpResponse(status=403)
        previous = readiness_previous(report=report)
        context = {
            "report": report,
            "results": [_shown(result) for result in report.results],
            "previous": previous,
            "changes": readiness_compare(report=report, previous=previous),
        }
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), **context}
        )


def _shown(result: dict[str, Any]) -> dict[str, Any]:
    return {**result, "evidence_json": json.dumps(result.get("evidence") or {}, indent=2)}


def _attachment(response: HttpResponse, report: ReadinessReport, extension: str) -> HttpResponse:
    environment = report.environment
    name = f"readiness-{environment.customer.slug}-{environment.slug}-{report.pk}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
