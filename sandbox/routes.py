"""Which function answers which request, and what every API request goes through first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sandbox import contract, control
from sandbox.faults import Faults
from sandbox.messages import Request, Response, error_response
from sandbox.state import SandboxState

Handler = Callable[[SandboxState, Request, Faults], Response]


@dataclass(frozen=True)
class Route:
    """A route's handler, its request counter and whether fault latency applies."""

    handler: Handler
    stat: str | None = None
    delayed: bool = False


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/auth/customer_authenticate"): Route(
        contract.customer_authenticate, "authenticate_requests", delayed=True
    ),
    ("POST", "/oauth/access_token"): Route(contract.access_token, "token_requests", delayed=True),
    ("POST", "/account/getprofile"): Route(contract.getprofile, "profile_requests", delayed=True),
    ("GET", "/_sandbox/faults"): Route(control.faults_show),
    ("POST", "/_sandbox/faults"): Route(control.faults_update),
    ("POST", "/_sandbox/reset"): Route(control.reset),
    ("GET", "/_sandbox/stats"): Route(control.stats),
}


def dispatch(state: SandboxState, request: Request) -> Response:
    """Count the request, wait out any latency knob, and call the route's handler."""
    route = ROUTES.get((request.method, request.path))
    if route is None:
        return no_route(request)
    if route.stat:
        # Counted on arrival, before any fault, so the counters tell exactly what callers sent.
        state.count(route.stat)
    faults = state.faults
    if route.delayed and faults.latency_ms:
        state.stopping.wait(faults.latency_ms / 1000)
    return route.handler(state, request, faults)


def no_route(request: Request) -> Response:
    """404 for an unknown path, 405 with ``Allow`` for a known path and the wrong method."""
    allowed = sorted(method for method, path in ROUTES if path == request.path)
    if not allowed:
        return error_response(404, "not_found", f"no route {request.path}")
    description = f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}"
    return error_response(405, "method_not_allowed", description, {"Allow": ", ".join(allowed)})
