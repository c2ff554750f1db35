"""What a session cookie stands for: the customer the customer's own API resolves it to.

A cookie session is random per login by design, so two logins of one person give two
different cookies; the identifier the guide cares about is the customer the session
belongs to. The only party that knows it is the customer's API: each session is sent on
a business endpoint that carries the cookie, and the answer's customer field is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integrations.choices import IdentifierLocation
from integrations.errors import PortalError
from integrations.models import CustomerAuth, Endpoint
from integrations.outbound import Exchange, MalformedResponse
from integrations.services.readiness.checks_endpoints import (
    Credentials,
    CredentialsUnavailable,
    Presented,
    endpoint_send,
)
from integrations.services.readiness.context import Login, ReadinessContext
from integrations.services.readiness.evidence import error_message

# Fields that name the customer in an answer, tried after the configured identity claim.
CUSTOMER_FIELDS = (
    "customer_id",
    "customerId",
    "customer",
    "user_id",
    "userId",
    "account_id",
    "accountId",
    "sub",
    "id",
)


class SessionNotResolvable(PortalError):
    """Nothing here can say which customer a session belongs to; the message says why."""

    code = "session_not_resolvable"


class SessionRefused(PortalError):
    """The business endpoint did not accept a fresh session; ``exchange`` shows the answer."""

    code = "session_refused"

    def __init__(self, message: str, *, exchange: Exchange) -> None:
        super().__init__(message)
        self.exchange = exchange


@dataclass(frozen=True)
class Resolved:
    """The customer one session belongs to, as the endpoint's answer names it."""

    endpoint: Endpoint
    field: str
    value: str
    exchange: Exchange

    def evidence(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint.slug, "field": self.field, "customer": self.value}


def resolving_endpoint(ctx: ReadinessContext, auth: CustomerAuth) -> Endpoint:
    """The first endpoint (by slug) that sends this customer auth's session."""
    for endpoint in ctx.endpoints():
        carries = endpoint.identifier_location != IdentifierLocation.NONE
        if endpoint.customer_auth_id == auth.pk and carries:
            return endpoint
    raise SessionNotResolvable(
        "no endpoint of the environment sends this customer auth's session, so nothing "
        "can say which customer a session belongs to"
    )


def session_resolve(ctx: ReadinessContext, endpoint: Endpoint, login: Login) -> Resolved:
    """Send ``login``'s session on ``endpoint`` and read which customer the answer names."""
    if login.resolved is None:
        login.resolved = _resolve(ctx, endpoint, login)
    return login.resolved


def _resolve(ctx: ReadinessContext, endpoint: Endpoint, login: Login) -> Resolved:
    assert login.fetched is not None and login.user is not None
    session = Presented(login.fetched.value, login.fetched.extra.get("cookie_name", ""))
    exchange = endpoint_send(
        ctx, endpoint, Credentials(bearer=_bearer(ctx, endpoint), session=session)
    )
    if exchange.status != endpoint.expected_status:
        raise SessionRefused(
            f"{endpoint.slug} answered {exchange.status} (not {endpoint.expected_status}) "
            f"to a fresh session of {login.user.label}",
            exchange=exchange,
        )
    field, value = _customer_field(exchange, login.user.customer_auth.identity_claim)
    return Resolved(endpoint=endpoint, field=field, value=value, exchange=exchange)


def _bearer(ctx: ReadinessContext, endpoint: Endpoint) -> Presented | None:
    if endpoint.oauth_client is None:
        return None
    outcome = ctx.bearer(endpoint.oauth_client)
    if outcome.fetched is None:
        raise CredentialsUnavailable(f"no access token ({error_message(outcome.error)})")
    return Presented(outcome.fetched.value)


def _customer_field(exchange: Exchange, identity_claim: str) -> tuple[str, str]:
    try:
        payload = exchange.json()
    except MalformedResponse:
        payload = None
    names = tuple(dict.fromkeys([identity_claim, *CUSTOMER_FIELDS]))
    if isinstance(payload, dict):
        for name in names:
            value = _scalar(payload.get(name))
            if value:
                return name, value
    raise SessionNotResolvable(
        f"the answer of {exchange.request.url.split('?', 1)[0]} names no customer "
        f"(no field {', '.join(names)})"
    )


def _scalar(value: Any) -> str:
    """A customer id as text; an object counts by its own ``id``."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value)
