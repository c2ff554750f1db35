"""A stored test call read as a trace: each auth step, then the business call.

The page and the API show the same steps, read from the TestCall row (already
redacted when it was stored): step 1 the OAuth token fetch, step 2 the customer
login, the business call last. A step that sent nothing says why (a cached token, a
failure moments ago); a business call that was not sent names the step that stopped it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from integrations.models import TestCall

TITLES = {
    "oauth_token": "OAuth token fetch",
    "customer_auth": "Customer login",
    "business_call": "Business call",
}
_NOT_SENT = {
    "cache_hit": "Nothing sent: the cached token was still valid.",
    "reused_after_wait": "Nothing sent: another caller fetched the token moments before.",
    "stale": "Nothing sent: the refresh is failing, so the still-valid token was used.",
}


@dataclass
class TraceStep:
    """One numbered step of a test call, as the page and the API show it."""

    number: int
    kind: str  # oauth_token | customer_auth | business_call
    title: str
    credential: str
    outcome: str
    sent: bool
    summary: str
    duration_ms: float | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    redirects: list[dict[str, Any]] = field(default_factory=list)
    error_code: str = ""
    error_message: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


def test_call_trace(*, call: TestCall) -> list[TraceStep]:
    """The call's steps in the order they ran, the business call last."""
    steps = [_auth_step(number, step) for number, step in enumerate(call.auth_steps, 1)]
    return [*steps, _business_step(call, steps)]


def test_call_trace_data(*, call: TestCall) -> list[dict[str, Any]]:
    """The trace as JSON-able data, for the API."""
    return [asdict(step) for step in test_call_trace(call=call)]


# The names start with "test_" because they are about test calls; they are not pytest tests.
test_call_trace.__test__ = False  # type: ignore[attr-defined]
test_call_trace_data.__test__ = False  # type: ignore[attr-defined]


def _auth_step(number: int, step: dict[str, Any]) -> TraceStep:
    exchange = step.get("exchange") or {}
    outcome = str(step.get("outcome", ""))
    return TraceStep(
        number=number,
        kind=str(step.get("name", "")),
        title=TITLES.get(str(step.get("name")), str(step.get("name", ""))),
        credential=str(step.get("credential", "")),
        outcome=outcome,
        sent=bool(exchange),
        summary=_auth_summary(outcome, step, exchange),
        duration_ms=step.get("duration_ms"),
        request=exchange.get("request"),
        response=_with_timings(exchange),
        redirects=exchange.get("redirects") or [],
        error_code=str(step.get("error_code", "")),
        error_message=str(step.get("error_message", "")),
    )


def _auth_summary(outcome: str, step: dict[str, Any], exchange: dict[str, Any]) -> str:
    message = step.get("error_message") or step.get("error_code") or ""
    if not exchange:
        if outcome == "failed":
            return f"Nothing sent: {message}"
        return _NOT_SENT.get(outcome, "Nothing sent.")
    if exchange.get("response") is None:
        return f"No response arrived: {message}"
    status = exchange["response"].get("status")
    if outcome == "failed":
        return f"The customer answered {status}: {message}"
    return f"The customer answered {status}; the token was {outcome.replace('_', ' ')}."


def _with_timings(exchange: dict[str, Any]) -> dict[str, Any] | None:
    response = exchange.get("response")
    if response is None:
        return None
    timings = {key: exchange.get(key) for key in ("elapsed_ms", "ttfb_ms", "peer_ip")}
    return {**response, **timings}


def _business_step(call: TestCall, steps: list[TraceStep]) -> TraceStep:
    sent = bool(call.request)
    response = call.response if sent and call.response.get("status") is not None else None
    return TraceStep(
        number=len(steps) + 1,
        kind="business_call",
        title=TITLES["business_call"],
        credential="",  # the endpoint is the page's subject; no query per call in a list
        outcome=("ok" if call.ok else "failed") if sent else "not_sent",
        sent=sent,
        summary=_business_summary(call, steps),
        duration_ms=call.response.get("elapsed_ms") if sent else None,
        request=call.request or None,
        response=response,
        redirects=call.response.get("redirects") or [],
        error_code=call.error_code,
        error_message=call.error_message,
    )


def _business_summary(call: TestCall, steps: list[TraceStep]) -> str:
    if not call.request:
        failed = next((step for step in steps if step.failed), None)
        if failed is not None:
            return f"Not sent: step {failed.number} ({failed.title}) failed."
        return f"Not sent: {call.error_message or call.error_code or 'the call was not built'}"
    again = " It was sent again after a 401 refreshed the credential." * bool(
        call.response.get("retried_after_401")
    )
    if call.status is None:
        return f"No response arrived: {call.error_message}{again}"
    verdict = "as expected" if call.ok else call.error_message or call.error_code
    return f"The customer answered {call.status} ({verdict}).{again}"
