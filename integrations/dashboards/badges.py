"""Shields-like SVG status badges of an environment or one endpoint.

Public (no login) only when PORTAL_PUBLIC_BADGES is on; otherwise the viewer needs a
portal role, by session or an API token in the Authorization header.

A badge must turn red when its endpoint goes down, not a cache lifetime later: every
response must be revalidated (no-cache) and carries an ETag of its SVG, so an unchanged
badge costs a 304; the pages also add ``?v=`` (badge_version) so an <img> swapped in by
the live refresh asks again as soon as the state changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.utils.cache import get_conditional_response, patch_vary_headers

from integrations.choices import HealthState
from integrations.dashboards.access import has_portal_role
from integrations.models import Endpoint, EndpointHealth, Environment
from integrations.selectors import worst_state

LABEL = "portal"
COLORS = {
    HealthState.HEALTHY: "#4c1",
    HealthState.DEGRADED: "#dfb317",
    HealthState.DOWN: "#e05d44",
    HealthState.BLOCKED_BY_AUTH: "#fe7d37",
    HealthState.UNKNOWN: "#9f9f9f",
}
MESSAGES = {
    HealthState.HEALTHY: "healthy",
    HealthState.DEGRADED: "degraded",
    HealthState.DOWN: "down",
    HealthState.BLOCKED_BY_AUTH: "blocked by auth",
    HealthState.UNKNOWN: "unknown",
}
# Approximate advances of Verdana 11px, enough to size a badge around its text.
NARROW, WIDE, DEFAULT_ADVANCE = set("fijlrt .,:;|'!"), set("mwMW@"), 7.0


@dataclass(frozen=True)
class Badge:
    label: str
    message: str
    color: str
    label_width: int
    message_width: int

    @property
    def width(self) -> int:
        return self.label_width + self.message_width

    @property
    def label_x(self) -> float:
        return self.label_width / 2

    @property
    def message_x(self) -> float:
        return self.label_width + self.message_width / 2


def badge_for(state: str) -> Badge:
    message = MESSAGES[HealthState(state)]
    return Badge(
        label=LABEL,
        message=message,
        color=COLORS[HealthState(state)],
        label_width=_text_width(LABEL) + 10,
        message_width=_text_width(message) + 10,
    )


def badge_version(state: str, since: datetime | None) -> str:
    """The ``?v=`` of a badge URL on the pages: changes whenever the badge's state does."""
    return f"{state}-{int(since.timestamp())}" if since else state


def _text_width(text: str) -> int:
    advances = (4.0 if c in NARROW else 10.0 if c in WIDE else DEFAULT_ADVANCE for c in text)
    return round(sum(advances))


def environment_badge(request: HttpRequest, customer: str, environment: str) -> HttpResponse:
    if not _may_see(request):
        return _unauthorized()
    env = get_object_or_404(Environment, customer__slug=customer, slug=environment)
    counts = (
        EndpointHealth.objects.filter(endpoint__environment=env, endpoint__probe_enabled=True)
        .values_list("state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return _badge_response(request, worst_state(dict(counts)))


def endpoint_badge(
    request: HttpRequest, customer: str, environment: str, endpoint: str
) -> HttpResponse:
    if not _may_see(request):
        return _unauthorized()
    found = (
        Endpoint.objects.filter(
            environment__customer__slug=customer, environment__slug=environment, slug=endpoint
        )
        .values_list("pk", "health__state")
        .first()
    )
    if found is None:
        raise Http404("No such endpoint.")
    return _badge_response(request, found[1] or HealthState.UNKNOWN)


def _may_see(request: HttpRequest) -> bool:
    return settings.PORTAL_PUBLIC_BADGES or has_portal_role(request)


def _badge_response(request: HttpRequest, state: str) -> HttpResponse:
    svg = render_to_string("portal/badge.svg", {"badge": badge_for(state)})
    etag = '"' + hashlib.sha256(svg.encode()).hexdigest()[:32] + '"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        svg, content_type="image/svg+xml; charset=utf-8"
    )
    response["ETag"] = etag
    if settings.PORTAL_PUBLIC_BADGES:
        response["Cache-Control"] = "no-cache, max-age=0"
    else:
        # Private: no shared cache may hand it to someone else.
        response["Cache-Control"] = "private, no-cache, max-age=0"
        patch_vary_headers(response, ["Cookie", "Authorization"])
    return response


def _unauthorized() -> HttpResponse:
    response = HttpResponse(
        "Badges are private: log in, or send an API token as 'Authorization: Bearer <token>'.\n",
        status=401,
        content_type="text/plain; charset=utf-8",
    )
    response["WWW-Authenticate"] = 'Bearer realm="portal"'
    return response
