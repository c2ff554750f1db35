"""Each step checked against the customer at once: a token fetched, a test user logged in,
and at the end a first test call with a readiness report.

All of it goes through the token broker and the test call service, so what the flow
checks is what probes and test calls will do, through the same outbound edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest

from integrations import clock
from integrations.choices import CustomerAuthMode
from integrations.models import Endpoint, OAuthClient, ReadinessReport, TestCall, TestUser
from integrations.outbound.redaction import redact_text
from integrations.services.readiness import readiness_run
from integrations.services.refresh_now import access_token_refresh_now, user_session_refresh_now
from integrations.services.test_calls import test_call_run
from integrations.services.tokens import AuthStepFailed, IssuedToken


@dataclass(frozen=True)
class CheckOutcome:
    """What the customer answered to a step's check, as the page says it."""

    ok: bool
    message: str
    code: str = ""  # the typed error's code, e.g. invalid_client


@dataclass(frozen=True)
class FirstCall:
    test_call: TestCall
    report: ReadinessReport


def oauth_client_check(
    *, oauth_client: OAuthClient, actor: Any, request: HttpRequest | None
) -> CheckOutcome:
    """Fetch a fresh token with the client as saved: "token fetched, expires in 8 h"."""
    try:
        issued = access_token_refresh_now(oauth_client=oauth_client, actor=actor, request=request)
    except AuthStepFailed as error:
        return _failed(error, secrets=_revealed(oauth_client.client_secret))
    return CheckOutcome(True, f"token fetched, expires in {expires_in_text(issued)}")


def test_user_check(
    *, test_user: TestUser, actor: Any, request: HttpRequest | None
) -> CheckOutcome:
    """Log the test user in through the broker: "logged in, JWT expires in 8 h"."""
    try:
        issued = user_session_refresh_now(test_user=test_user, actor=actor, request=request)
    except AuthStepFailed as error:
        return _failed(error, secrets=_revealed(test_user.password))
    cookie = test_user.customer_auth.mode == CustomerAuthMode.COOKIE
    what = f"session cookie {issued.cookie_name}" if cookie else "JWT"
    return CheckOutcome(True, f"logged in, {what} expires in {expires_in_text(issued)}")


test_user_check.__test__ = False  # type: ignore[attr-defined]  # a service, not a pytest test


def first_call_run(*, endpoint: Endpoint, actor: Any, request: HttpRequest | None) -> FirstCall:
    """One test call as the endpoint's default test user, then the environment's readiness."""
    call = test_call_run(endpoint=endpoint, test_user=None, actor=actor, request=request)
    report = readiness_run(environment=endpoint.environment, actor=actor)
    return FirstCall(call, report)


def expires_in_text(issued: IssuedToken, *, now: datetime | None = None) -> str:
    """ "8 h" for the guide's 28799 s, "7 h 41 min", "12 min"; to the nearest minute."""
    minutes = round((issued.expires_at - (now or clock.now())).total_seconds() / 60)
    if minutes < 1:
        return "less than a minute"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def _failed(error: AuthStepFailed, *, secrets: list[str]) -> CheckOutcome:
    # The customer's error text is shown as it came, less anything secret it echoes.
    cause = getattr(error.cause, "message", str(error.cause))
    return CheckOutcome(False, f"{error.code}: {redact_text(cause, secrets=secrets)}", error.code)


def _revealed(secret: Any) -> list[str]:
    return [secret.reveal()] if secret is not None else []
