"""One endpoint's page: state, heartbeat of its last probes, latency, state changes,
test calls, tokens and its badge.

Like the environment page, its live part (``?partial=1``) is fetched again every few
seconds by static/portal/live.js; the latency chart and the embed snippets are not.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.roles import Role, role_required
from integrations import clock
from integrations.dashboards.badges import badge_version
from integrations.dashboards.endpoint_selectors import (
    endpoint_detail_queryset,
    endpoint_heartbeats,
    endpoint_test_calls,
    heartbeat_summary,
)
from integrations.dashboards.selectors import endpoint_credentials, recent_transitions
from integrations.dashboards.views import chart_context, health_gap, health_slow
from integrations.models import Endpoint, EndpointHealth
from integrations.services.probe_recording import alert_channels

HEARTBEAT_PROBES = 50
# ?probes= may ask for more, up to this: the bar stays one bounded, indexed read.
HEARTBEAT_PROBES_MAX = 200
TRANSITIONS_SHOWN = 20


@role_required(Role.VIEWER)
def endpoint_page(
    request: HttpRequest, customer: str, environment: str, endpoint: str
) -> HttpResponse:
    found = get_object_or_404(
        endpoint_detail_queryset(),
        environment__customer__slug=customer,
        environment__slug=environment,
        slug=endpoint,
    )
    probes = _probes_wanted(request.GET.get("probes"))
    context = _live_context(found, probes=probes)
    if request.GET.get("partial"):
        return TemplateResponse(request, "portal/_endpoint_live.html", context)
    context |= chart_context(
        environment=found.environment, endpoint=found, requested=request.GET.get("range", "")
    )
    context |= _embed_context(request, found)
    context |= {
        "live_query": urlencode({"partial": 1, "probes": probes}),
        "refresh_s": settings.PORTAL_DASHBOARD_REFRESH_S,
        "alerts_off": not alert_channels(),
    }
    return TemplateResponse(request, "portal/endpoint.html", context)


def _probes_wanted(raw: str | None) -> int:
    """How many probes the heartbeat shows: ?probes=N within bounds, else the default."""
    try:
        wanted = int(raw or HEARTBEAT_PROBES)
    except ValueError:
        return HEARTBEAT_PROBES
    return min(max(wanted, 1), HEARTBEAT_PROBES_MAX)


def _live_context(endpoint: Endpoint, *, probes: int) -> dict[str, Any]:
    """What the live part shows; re-read on every refresh."""
    health: EndpointHealth | None = getattr(endpoint, "health", None)  # None: never scheduled
    env = endpoint.environment
    now = clock.now()
    beats = endpoint_heartbeats(endpoint=endpoint, limit=probes)
    return {
        "endpoint": endpoint,
        "environment": env,
        "health": health,
        "gap": health_gap(health=health, endpoint=endpoint, environment=env, now=now),
        "slow": health_slow(health=health, environment=env),
        "now": now,
        "probes": probes,
        "beats": beats,
        "beats_summary": heartbeat_summary(beats),
        "transitions": recent_transitions(endpoint_ids=[endpoint.pk], limit=TRANSITIONS_SHOWN),
        "test_calls": endpoint_test_calls(endpoint=endpoint),
        "credentials": endpoint_credentials(endpoint=endpoint),
        "badge_version": badge_version(health.state, health.state_since) if health else "unknown",
    }


def _embed_context(request: HttpRequest, endpoint: Endpoint) -> dict[str, Any]:
    """Absolute URLs of the badge and this page, for the Markdown and HTML snippets."""
    args = [endpoint.environment.customer.slug, endpoint.environment.slug, endpoint.slug]
    return {
        "badge_url": request.build_absolute_uri(reverse("integrations:badge-endpoint", args=args)),
        "page_url": request.build_absolute_uri(reverse("integrations:endpoint", args=args)),
        "portal_public_badges": settings.PORTAL_PUBLIC_BADGES,
    }
