"""The ``/_sandbox/*`` control routes: change fault knobs, reset, read request counters.

They are not part of the guide's contract, so they ignore the fault knobs themselves: a demo
with ``latency_ms`` set can still be reset at once.
"""

from __future__ import annotations

import json

from sandbox.faults import Faults, KnobError, knob_docs
from sandbox.messages import Request, Response, error_response, json_response
from sandbox.state import SandboxState


def faults_show(state: SandboxState, request: Request, faults: Faults) -> Response:
    """``GET /_sandbox/faults``: the knobs in force and what each one does."""
    return json_response(200, {"faults": state.faults.as_dict(), "knobs": knob_docs()})


def faults_update(state: SandboxState, request: Request, faults: Faults) -> Response:
    """``POST /_sandbox/faults``: merge a JSON object of knobs; nothing changes on error."""
    try:
        changes = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error_response(400, "invalid_request", "the body must be a JSON object of knobs")
    if not isinstance(changes, dict):
        return error_response(400, "invalid_request", "the body must be a JSON object of knobs")
    try:
        updated = state.set_faults(changes)
    except KnobError as error:
        return error_response(400, "invalid_knob", str(error))
    return json_response(200, {"faults": updated.as_dict()})


def reset(state: SandboxState, request: Request, faults: Faults) -> Response:
    """``POST /_sandbox/reset``: start-up knobs, zero counters, no issued access tokens."""
    state.reset()
    return json_response(200, {"faults": state.faults.as_dict(), "stats": state.stats()})


def stats(state: SandboxState, request: Request, faults: Faults) -> Response:
    """``GET /_sandbox/stats``: request counters per contract route."""
    return json_response(200, state.stats())
