"""Read-only admin pages for health: current state, probe results, transitions, alerts."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from integrations.models import (
    AlertDeliveryAttempt,
    AlertOutbox,
    EndpointHealth,
    HealthTransition,
    ProbeResult,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the probe pipeline; people read them, never edit them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(EndpointHealth)
class EndpointHealthAdmin(ReadOnlyAdmin):
    list_display = [
        "endpoint",
        "state",
        "state_since",
        "last_probe_at",
        "last_latency_ms",
        "failing_step",
        "last_error_code",
        "next_probe_at",
        "monitoring_gap_at",
    ]
    list_filter = ["state", "endpoint__environment__customer"]
    list_select_related = ["endpoint__environment__customer"]


@admin.register(ProbeResult)
class ProbeResultAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "endpoint",
        "ok",
        "status",
        "latency_ms",
        "lag_ms",
        "error_class",
        "failing_step",
        "missed_reason",
        "message",
    ]
    list_filter = ["ok", "error_class", "missed_reason"]
    list_select_related = ["endpoint__environment__customer"]
    show_full_result_count = False  # counting millions of rows on every page is slow


class ReadOnlyInline(admin.TabularInline):
    """Rows the alert pipeline writes, listed under their parent for reading only."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AlertOutboxInline(ReadOnlyInline):
    model = AlertOutbox
    fields = readonly_fields = (
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "sent_at",
        "last_error",
    )


class AlertDeliveryAttemptInline(ReadOnlyInline):
    model = AlertDeliveryAttempt
    show_change_link = False
    fields = readonly_fields = (
        "number",
        "started_at",
        "finished_at",
        "outcome",
        "http_status",
        "duration_ms",
        "error_code",
        "error_message",
    )


@admin.register(HealthTransition)
class HealthTransitionAdmin(ReadOnlyAdmin):
    list_display = ["at", "endpoint", "from_state", "to_state", "failing_step", "reason"]
    inlines = [AlertOutboxInline]
    list_filter = ["to_state"]
    list_select_related = ["endpoint__environment__customer"]


@admin.register(AlertOutbox)
class AlertOutboxAdmin(ReadOnlyAdmin):
    list_display = ["transition", "channel", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status", "channel"]
    inlines = [AlertDeliveryAttemptInline]
