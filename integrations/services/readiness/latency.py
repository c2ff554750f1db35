"""Readiness check: every step of a call answers within the environment's latency budget.

The platform calls these APIs while a customer waits in a chat, so each step (token,
login, business call) is timed over a few fresh calls. All within budget passes; a
median within budget with a slow outlier warns; a median over budget fails.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

from django.conf import settings

from integrations.errors import PortalError
from integrations.models import Endpoint, OAuthClient, TestUser
from integrations.outbound import Exchange, OutboundError
from integrations.services.readiness.checks_endpoints import credentials_fresh, endpoint_send
from integrations.services.readiness.context import Outcome, ReadinessContext
from integrations.services.readiness.evidence import error_evidence, error_message
from integrations.services.readiness.results import Check, CheckResult, Verdict

Sample = Callable[[], Exchange]


class SampleFailed(Exception):
    """One timed call failed, so its step has no timing to judge."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error_message(error))
        self.error = error


def latency_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    steps: list[tuple[str, Sample]] = []
    steps += [(f"oauth_token:{c.name}", _token_sample(ctx, c)) for c in ctx.oauth_clients()]
    for auth in ctx.customer_auths():
        if users := ctx.test_users(auth):
            steps.append((f"customer_auth:{auth.name}", _login_sample(ctx, users[0])))
    steps += [(f"endpoint:{e.slug}", _endpoint_sample(ctx, e)) for e in ctx.endpoints()]
    if not steps:
        return [check.result(Verdict.NOT_APPLICABLE, message="Nothing to time.")]
    return [_judge(check, ctx, target, sample) for target, sample in steps]


def _judge(check: Check, ctx: ReadinessContext, target: str, sample: Sample) -> CheckResult:
    budget = ctx.environment.latency_budget_ms
    try:
        timings = [round(sample().elapsed_ms, 1) for _ in range(_samples())]
    except SampleFailed as failed:
        message = f"Not timed, a call failed: {failed}"
        return check.result(
            Verdict.FAIL, target=target, message=message, evidence=error_evidence(failed.error)
        )
    # Rounded again: the median of two samples is their mean, e.g. 1.6500000000000001.
    median = round(statistics.median(timings), 1)
    evidence = {"timings_ms": timings, "median_ms": median, "budget_ms": budget}
    if median > budget:
        verdict, message = Verdict.FAIL, f"Median {median:.0f} ms is over the {budget} ms budget."
    elif max(timings) > budget:
        verdict = Verdict.WARN
        message = f"Median {median:.0f} ms, but the slowest call took {max(timings):.0f} ms."
    else:
        verdict = Verdict.PASS
        message = f"All {len(timings)} calls within {budget} ms (median {median:.0f} ms)."
    return check.result(verdict, target=target, message=message, evidence=evidence)


def _samples() -> int:
    return max(1, settings.READINESS_LATENCY_SAMPLES)


def _exchange_of(outcome: Outcome) -> Exchange:
    if outcome.error is not None or outcome.fetched is None:
        raise SampleFailed(outcome.error or RuntimeError("no token"))
    return outcome.fetched.exchange


def _token_sample(ctx: ReadinessContext, client: OAuthClient) -> Sample:
    return lambda: _exchange_of(ctx.fetch_bearer(client))


def _login_sample(ctx: ReadinessContext, user: TestUser) -> Sample:
    return lambda: _exchange_of(ctx.fetch_login(user))


def _endpoint_sample(ctx: ReadinessContext, endpoint: Endpoint) -> Sample:
    def sample() -> Exchange:
        try:
            return endpoint_send(ctx, endpoint, credentials_fresh(ctx, endpoint))
        except (OutboundError, PortalError) as error:
            raise SampleFailed(error) from None

    return sample
