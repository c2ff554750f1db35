"""How services build requests for the outbound edge from an environment's settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from integrations.models import Environment
from integrations.outbound import Exchange, OutboundRequest, send

FORM = "application/x-www-form-urlencoded"


def environment_request(
    *,
    environment: Environment,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None = None,
    deadline_ms: int | None = None,
    follow_redirects: bool = False,
    sensitive_headers: Iterable[str] = (),
) -> OutboundRequest:
    """One request with the environment's timeouts and TLS choice, ready for the edge."""
    return OutboundRequest(
        method=method,
        url=url,
        headers=dict(headers),
        body=body,
        connect_timeout_s=environment.connect_timeout_ms / 1000,
        deadline_s=(deadline_ms or environment.deadline_ms) / 1000,
        follow_redirects=follow_redirects,
        verify_tls=environment.verify_tls,
        sensitive_headers=frozenset(h.lower() for h in sensitive_headers),
        # Callers judge the status themselves: a 401 is a reason to refresh, not a crash.
        raise_for_status=False,
    )


def environment_send(**kwargs: Any) -> Exchange:
    """Send one request with the environment's timeouts and TLS choice (see above)."""
    return send(environment_request(**kwargs))


def environment_post_form(
    *,
    environment: Environment,
    url: str,
    fields: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> Exchange:
    body = urlencode({k: v for k, v in fields.items() if v is not None}).encode()
    all_headers = {"content-type": FORM, "accept": "application/json", "cache-control": "no-cache"}
    all_headers.update(headers or {})
    return environment_send(
        environment=environment, method="POST", url=url, headers=all_headers, body=body
    )
