"""Who may read badges and metrics: a portal role by session or API token, a metrics
token, or an allow-listed network.

Badges and /metrics are fetched by things that cannot log in (an <img> on another
page, Prometheus), so they take credentials in the Authorization header instead of
redirecting to the login page.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

from accounts.authentication import ApiTokenThrottled, api_token_authenticate
from accounts.roles import role_of
from accounts.throttle import client_ip
from accounts.tokens import ApiTokenRejected

SCHEMES = ("bearer", "token")


def bearer_credential(request: HttpRequest) -> str | None:
    """The credential of ``Authorization: Bearer <x>`` (or ``Token <x>``), if any."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() not in SCHEMES or not value.strip():
        return None
    return value.strip()


def has_portal_role(request: HttpRequest) -> bool:
    """A logged-in user with a role, or a valid API token (any scope reads) of one."""
    if role_of(request.user) is not None:
        return True
    raw = bearer_credential(request)
    return raw is not None and _api_token_has_role(request, raw)


def _api_token_has_role(request: HttpRequest, raw: str) -> bool:
    try:
        token = api_token_authenticate(raw=raw, ip=client_ip(request))
    except (ApiTokenRejected, ApiTokenThrottled):
        return False
    return role_of(token.user) is not None


def metrics_allowed(request: HttpRequest) -> bool:
    """The metrics token, an allow-listed client address, or what has_portal_role accepts."""
    raw = bearer_credential(request)
    expected = settings.PORTAL_METRICS_TOKEN
    if raw is not None and expected and hmac.compare_digest(raw.encode(), expected.encode()):
        return True
    if address_allowed(client_ip(request), tuple(settings.PORTAL_METRICS_ALLOW_IPS)):
        return True
    return has_portal_role(request)


def address_allowed(address: str, cidrs: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(cidrs))


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]
