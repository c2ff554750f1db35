"""Health probes: the real call chain of each endpoint, judged and recorded in bulk.

A probe is exactly a production call: token step, customer authentication step, then
the endpoint (services.calls.endpoint_call), followed by the endpoint's assertions.
A batch prepares its calls with the database, sends them concurrently (network only:
the asyncio client, or a thread pool with no database in its threads) and records
them in one transaction (services.probe_recording).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError

from integrations import clock
from integrations.choices import ErrorClass
from integrations.errors import PortalError
from integrations.models import ApiKey, CustomerAuth, Endpoint, OAuthClient, TestUser
from integrations.outbound import (
    Exchange,
    OutboundError,
    OutboundPolicy,
    UpstreamHttpError,
    classify_error,
)
from integrations.outbound.aio import AsyncBatchClient
from integrations.outbound.redaction import redact_text
from integrations.services.assertions import assertions_check
from integrations.services.calls import (
    CallResult,
    PendingCall,
    call_complete,
    call_prepare,
    call_request,
    call_send,
)
from integrations.services.tokens import AuthStepFailed, token_generations_prefetch

logger = logging.getLogger(__name__)

# Every class of the outbound edge has a probe class of the same value.
_OUTBOUND_CLASSES = {value: ErrorClass(value) for value in ErrorClass.values}


@dataclass
class ProbeOutcome:
    """One probe, judged: what the recorder stores and the health machine reads."""

    endpoint_id: int
    due_at: datetime
    started_at: datetime
    ok: bool
    status: int | None = None
    latency_ms: float | None = None
    error_class: str = ""
    error_code: str = ""
    message: str = ""
    failing_step: str = ""
    steps: list[dict[str, object]] = field(default_factory=list)

    @property
    def lag_ms(self) -> float:
        return max(0.0, (self.started_at - self.due_at).total_seconds() * 1000)


def error_class_of(error: Exception) -> ErrorClass:
    """The rollup class of a call's error."""
    if isinstance(error, AuthStepFailed):
        return ErrorClass.AUTH
    if isinstance(error, UpstreamHttpError):
        return ErrorClass.HTTP_5XX if error.status >= 500 else ErrorClass.HTTP_4XX
    if isinstance(error, OutboundError):
        return _OUTBOUND_CLASSES.get(classify_error(error).value, ErrorClass.OTHER)
    return ErrorClass.OTHER


def _failing_step(error: Exception) -> str:
    if isinstance(error, AuthStepFailed):
        return error.step.name
    if isinstance(error, PortalError) and not isinstance(error, OutboundError):
        return "configuration"
    return "endpoint"


def probe_judge(
    *, endpoint: Endpoint, due_at: datetime, started_at: datetime, result: CallResult
) -> ProbeOutcome:
    """Turn a call result into a probe outcome, assertions included."""
    outcome = ProbeOutcome(
        endpoint_id=endpoint.pk,
        due_at=due_at,
        started_at=started_at,
        ok=result.ok,
        status=result.status,
        latency_ms=result.exchange.elapsed_ms if result.exchange else None,
        steps=[{"name": s.name, "outcome": s.outcome, "ms": s.duration_ms} for s in result.steps],
    )
    if result.error is not None:
        outcome.ok = False
        outcome.error_class = error_class_of(result.error)
        outcome.error_code = result.error_code[:100]
        outcome.message = redact_text(result.error_message, secrets=result.secrets)[:500]
        outcome.failing_step = _failing_step(result.error)
        return outcome
    failures = assertions_check(assertions=endpoint.assertions or [], result=result)
    if failures:
        outcome.ok = False
        outcome.error_class = ErrorClass.ASSERTION
        outcome.error_code = "assertion_failed"
        outcome.message = redact_text("; ".join(failures), secrets=result.secrets)[:500]
        outcome.failing_step = "assertions"
    return outcome


def endpoint_probe(*, endpoint: Endpoint, due_at: datetime) -> ProbeOutcome:
    """Probe one endpoint now. Never raises for anything the customer's API does."""
    return endpoints_probe(slots=[(endpoint, due_at)])[0]


def _crashed(endpoint: Endpoint, due_at: datetime, started_at: datetime) -> ProbeOutcome:
    logger.exception("probe of endpoint %s crashed", endpoint.pk)
    return ProbeOutcome(
        endpoint.pk,
        due_at,
        started_at,
        ok=False,
        error_class=ErrorClass.OTHER,
        error_code="probe_crashed",
        message="the probe crashed; see the logs",
        failing_step="probe",
    )


def endpoints_probe(*, slots: list[tuple[Endpoint, datetime]]) -> list[ProbeOutcome]:
    """Probe many endpoints; one outcome per (endpoint, due time) slot.

    Tokens and requests are prepared here (the database work, mostly cache hits),
    the requests go out concurrently (settings.PROBE_CLIENT), and the answers are judged
    here again, where a 401's refresh and single retry also run.
    """
    started = [clock.now() for _ in slots]
    pending: list[PendingCall | None] = []
    with token_generations_prefetch(
        oauth_client_ids=[endpoint.oauth_client_id for endpoint, _ in slots],
        test_user_ids=[endpoint.default_test_user_id for endpoint, _ in slots],
    ):  # one query checks every memoised token of the batch
        for endpoint, _ in slots:
            try:
                pending.append(call_prepare(endpoint=endpoint))
            except (OperationalError, InterfaceError):
                # The portal's database failed, not the customer: nothing is sent yet, so
                # the batch is given up whole and probed again, not recorded as failures.
                raise
            except Exception:
                pending.append(None)
    sent = _send_all([call for call in pending if call is not None])
    outcomes = []
    for (endpoint, due_at), at, call in zip(slots, started, pending, strict=True):
        try:
            assert call is not None
            result = call_complete(call=call, sent=sent.get(id(call)))
            outcomes.append(
                probe_judge(endpoint=endpoint, due_at=due_at, started_at=at, result=result)
            )
        except Exception:
            outcomes.append(_crashed(endpoint, due_at, at))
    return outcomes


def _send_all(calls: list[PendingCall]) -> dict[int, Exchange | OutboundError | None]:
    if settings.PROBE_CLIENT == "aiohttp" and len(calls) > 1:
        return _send_all_async(calls)
    if len(calls) <= 1:
        return {id(call): call_send(call=call) for call in calls}
    workers = max(1, min(settings.PROBE_THREADS, len(calls)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="probe") as pool:
        answers = list(pool.map(lambda call: call_send(call=call), calls))
    return {id(call): answer for call, answer in zip(calls, answers, strict=True)}


_loop_state = threading.local()


def _event_loop() -> tuple[asyncio.AbstractEventLoop, AsyncBatchClient]:
    """This thread's event loop and client: kept across batches so connections are reused."""
    if getattr(_loop_state, "pid", None) != os.getpid():
        _loop_state.pid = os.getpid()
        _loop_state.loop = asyncio.new_event_loop()
        _loop_state.client = AsyncBatchClient(
            policy=OutboundPolicy.from_settings(), concurrency=settings.PROBE_ASYNC_CONCURRENCY
        )
        atexit.register(_close_loop, _loop_state.loop, _loop_state.client)
    return _loop_state.loop, _loop_state.client


def _close_loop(loop: asyncio.AbstractEventLoop, client: AsyncBatchClient) -> None:
    if not loop.is_closed():
        loop.run_until_complete(client.close())
        loop.close()


def _send_all_async(calls: list[PendingCall]) -> dict[int, Exchange | OutboundError | None]:
    loop, client = _event_loop()
    client.policy = OutboundPolicy.from_settings()  # settings may change (tests, reloads)
    # A call already judged (its auth step failed) has no request and nothing to send.
    ready = [(call, r) for call in calls if (r := call_request(call=call)) is not None]
    answers = loop.run_until_complete(client.send_many([r for _, r in ready]))
    sent: dict[int, Exchange | OutboundError | None] = dict.fromkeys(map(id, calls))
    sent |= {id(call): answer for (call, _), answer in zip(ready, answers, strict=True)}
    return sent


def probe_slots_load(*, slots: list[tuple[int, datetime]]) -> list[tuple[Endpoint, datetime]]:
    """The endpoints of the slots, with everything a call needs, still enabled ones only.

    Credentials are loaded once each and shared by the endpoints that use them, so a
    batch decrypts each secret once and builds a few hundred objects, not thousands.
    """
    endpoints = Endpoint.objects.select_related("environment__customer").in_bulk(
        [endpoint_id for endpoint_id, _ in slots]
    )
    _attach_credentials(list(endpoints.values()))
    return [
        (endpoints[endpoint_id], due_at)
        for endpoint_id, due_at in slots
        if endpoint_id in endpoints and endpoints[endpoint_id].probe_enabled
    ]


def _attach_credentials(endpoints: list[Endpoint]) -> None:
    def load(model: Any, attr: str, *related: str) -> dict[int, Any]:
        ids = {getattr(e, attr) for e in endpoints} - {None}
        return model.objects.select_related(*related).in_bulk(ids) if ids else {}

    clients = load(OAuthClient, "oauth_client_id", "environment__customer")
    auths = load(CustomerAuth, "customer_auth_id", "environment__customer")
    keys = load(ApiKey, "api_key_id")
    users = load(TestUser, "default_test_user_id")
    for user in users.values():
        user.customer_auth = auths.get(user.customer_auth_id) or user.customer_auth
    for endpoint in endpoints:
        # A missing id looks up None, which no dict built from primary keys holds.
        endpoint.oauth_client = clients.get(endpoint.oauth_client_id)  # type: ignore[arg-type]
        endpoint.customer_auth = auths.get(endpoint.customer_auth_id)  # type: ignore[arg-type]
        endpoint.api_key = keys.get(endpoint.api_key_id)  # type: ignore[arg-type]
        endpoint.default_test_user = users.get(endpoint.default_test_user_id)  # type: ignore[arg-type]
