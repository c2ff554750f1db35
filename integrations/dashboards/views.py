"""Dashboard pages: the overview of every environment and one environment's page.

Both refresh themselves: static/portal/live.js fetches the page's live part
(``?partial=1``) every few seconds and swaps it in, without reloading the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.roles import Role, role_required
from integrations import clock
from integrations.choices import HealthState
from integrations.dashboards.badges import badge_version
from integrations.dashboards.charts import latency_chart
from integrations.dashboards.selectors import (
    endpoints_missed,
    endpoints_uptimes,
    environment_credentials,
    environment_latency_series,
    recent_failures,
    recent_transitions,
)
from integrations.models import Customer, Endpoint, EndpointHealth, Environment
from integrations.selectors import overview, overview_complete, overview_totals, worst_state
from integrations.services.probe_recording import alert_channels
from integrations.services.probe_runs import endpoint_probe_now
from integrations.services.readiness import readiness_run

CHART_RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
# Environments per overview page, worst first: enough to see every problem at once
# without rendering thousands of rows on every live refresh.
OVERVIEW_PAGE_SIZE = 100


@role_required(Role.VIEWER)
def overview_page(request: HttpRequest) -> HttpResponse:
    customer = request.GET.get("customer") or None
    state = request.GET.get("state") or None
    if state not in (None, *HealthState.values):
        state = None
    rows = overview(customer=customer, state=state)
    page = Paginator(rows, OVERVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    overview_complete(list(page.object_list))
    query = {k: v for k, v in (("customer", customer), ("state", state)) if v}
    per_state = overview_totals(rows)
    context: dict[str, Any] = {
        "rows": page.object_list,
        "page": page,
        "totals": {
            "environments": len(rows),
            "endpoints": sum(per_state.values()),
            "states": per_state,
        },
        "customer": customer,
        "state": state,
        "query": urlencode(query),
        "live_query": urlencode({"partial": 1, **query, "page": page.number}),
        "states": HealthState.choices,
        "refresh_s": settings.PORTAL_DASHBOARD_REFRESH_S,
        "token_failing_after": settings.TOKEN_FAILING_AFTER,
        "now": clock.now(),
    }
    if request.GET.get("partial"):
        return TemplateResponse(request, "portal/_overview_live.html", context)
    context["alerts_off"] = not alert_channels()
    context["customers"] = Customer.objects.filter(is_active=True).values_list("slug", "name")
    return TemplateResponse(request, "portal/overview.html", context)


@role_required(Role.VIEWER)
def environment_page(request: HttpRequest, customer: str, environment: str) -> HttpResponse:
    env = get_object_or_404(
        Environment.objects.select_related("customer"), customer__slug=customer, slug=environment
    )
    context = _live_context(env)
    if request.GET.get("partial"):
        return TemplateResponse(request, "portal/_environment_live.html", context)
    chart_endpoint = next(
        (e for e in context["endpoints"] if e.slug == request.GET.get("endpoint")), None
    )
    context |= chart_context(
        environment=env, endpoint=chart_endpoint, requested=request.GET.get("range", "")
    )
    context |= {
        "chart_endpoint": chart_endpoint,
        "refresh_s": settings.PORTAL_DASHBOARD_REFRESH_S,
        "alerts_off": not alert_channels(),
    }
    return TemplateResponse(request, "portal/environment.html", context)


def chart_context(
    *, environment: Environment, endpoint: Endpoint | None, requested: str
) -> dict[str, Any]:
    """The latency chart over the ``?range=`` asked for (24 h unless a known one), of one
    endpoint or of the whole environment: the environment and endpoint pages' chart."""
    chart_range = requested if requested in CHART_RANGES else "24h"
    until = clock.now()
    since = until - CHART_RANGES[chart_range]
    series = environment_latency_series(environment=environment, since=since, endpoint=endpoint)
    return {
        "chart": latency_chart(series, since=since, until=until),
        "chart_range": chart_range,
        "chart_ranges": list(CHART_RANGES),
    }


def health_slow(*, health: EndpointHealth | None, environment: Environment) -> bool:
    """The last probe took longer than the environment's latency budget: the "slow" chip."""
    latency = health.last_latency_ms if health else None
    return latency is not None and latency > environment.latency_budget_ms


def health_gap(
    *, health: EndpointHealth | None, endpoint: Endpoint, environment: Environment, now: datetime
) -> bool:
    """A monitoring gap (no probe for two intervals), told only of an endpoint that should
    be probed: a disabled one, or one of a disabled environment or customer, has none."""
    probed = environment.is_enabled and environment.customer.is_active and endpoint.probe_enabled
    return bool(probed and health and health.monitoring_gap(now))


@dataclass(frozen=True)
class EndpointRow:
    endpoint: Endpoint
    health: EndpointHealth | None
    uptimes: dict[str, float | None]
    missed: dict[str, int]  # slots never probed, over the same windows
    gap: bool  # probed, but no probe for two intervals: its health is not known now
    slow: bool  # the last probe took longer than the environment's latency budget

    @property
    def badge_version(self) -> str:
        health = self.health
        return badge_version(health.state, health.state_since) if health else "unknown"


def _live_context(env: Environment) -> dict[str, Any]:
    """What the environment page's live part shows: endpoints, credentials, history."""
    endpoints = list(Endpoint.objects.filter(environment=env).select_related("health"))
    ids = [e.pk for e in endpoints]
    uptimes = endpoints_uptimes(endpoint_ids=ids)
    missed = endpoints_missed(endpoint_ids=ids)
    now = clock.now()

    def row(endpoint: Endpoint) -> EndpointRow:
        health = getattr(endpoint, "health", None)
        gap = health_gap(health=health, endpoint=endpoint, environment=env, now=now)
        slow = health_slow(health=health, environment=env)
        return EndpointRow(endpoint, health, uptimes[endpoint.pk], missed[endpoint.pk], gap, slow)

    rows = [row(e) for e in endpoints]
    return {
        "environment": env,
        "endpoints": endpoints,
        "rows": rows,
        "environment_badge_version": _environment_badge_version(rows),
        "credentials": environment_credentials(environment=env),
        "failures": recent_failures(endpoint_ids=ids),
        "transitions": recent_transitions(endpoint_ids=ids),
        "now": now,
    }


def _environment_badge_version(rows: list[EndpointRow]) -> str:
    """What the environment badge shows (the worst probed state, as badges.py counts it)
    and since when: a new value when the badge changes, so the page loads it afresh."""
    probed = [r.health for r in rows if r.endpoint.probe_enabled and r.health is not None]
    counts: dict[str, int] = {}
    for health in probed:
        counts[health.state] = counts.get(health.state, 0) + 1
    latest = max((h.state_since for h in probed if h.state_since), default=None)
    return badge_version(worst_state(counts), latest)


@require_POST
@role_required(Role.ENGINEER)
def endpoint_probe(
    request: HttpRequest, customer: str, environment: str, endpoint: str
) -> HttpResponse:
    """The 'Probe now' button: probe outside the schedule, record it, go back to the page
    it was pressed on (the environment's, or the endpoint's)."""
    found = get_object_or_404(
        Endpoint, environment__customer__slug=customer, environment__slug=environment, slug=endpoint
    )
    result = endpoint_probe_now(endpoint=found)
    if result.ok:
        messages.success(request, f"Probed {found.name}: OK in {result.latency_ms or 0:.0f} ms.")
    else:
        detail = f"{result.error_code or 'failed'} at {result.failing_step or 'endpoint'}"
        messages.error(request, f"Probed {found.name}: {detail}. {result.message}")
    return HttpResponseRedirect(_back_to(request, customer, environment))


def _back_to(request: HttpRequest, customer: str, environment: str) -> str:
    """The page the button was on (``next``, if it is this site's), else the environment's."""
    wanted = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("integrations:environment", args=[customer, environment])


@require_POST
@role_required(Role.ENGINEER)
def environment_readiness(request: HttpRequest, customer: str, environment: str) -> HttpResponse:
    """The 'Run readiness report' button: check the environment against the guide now."""
    found = get_object_or_404(
        Environment.objects.select_related("customer"), customer__slug=customer, slug=environment
    )
    report = readiness_run(environment=found, actor=request.user)
    messages.info(request, f"Readiness report for {found.name}: {report.summary_text()}.")
    if request.user.is_staff:  # the report page with its evidence and exports is in the admin
        return HttpResponseRedirect(
            reverse("admin:integrations_readinessreport_change", args=[report.pk])
        )
    return HttpResponseRedirect(reverse("integrations:environment", args=[customer, environment]))
