"""The default test user of an endpoint: the only active login of its customer auth.

Probes and test calls of an endpoint that sends a customer identifier need a test user;
when its customer auth has exactly one active test user, there is nothing to choose.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from integrations import clock
from integrations.choices import AuditAction
from integrations.models import CustomerAuth, Endpoint, TestUser
from integrations.services.audit import audit_record


def default_test_user_pick(*, customer_auth: CustomerAuth) -> TestUser | None:
    """The customer auth's only active test user; None when it has none or several."""
    users = list(customer_auth.test_users.filter(is_active=True)[:2])
    return users[0] if len(users) == 1 else None


def default_test_user_for(
    *, customer_auth: CustomerAuth | None, current: TestUser | None
) -> TestUser | None:
    """An endpoint's default test user: ``current`` while it is a login of the endpoint's
    customer auth, else that customer auth's only active test user (or none)."""
    if customer_auth is None:
        return None
    if current is not None and current.customer_auth_id == customer_auth.pk:
        return current
    return default_test_user_pick(customer_auth=customer_auth)


def endpoints_default_test_user_fill(
    *, customer_auth: CustomerAuth, actor: Any = None, request: HttpRequest | None = None
) -> int:
    """Give the customer auth's endpoints without a default test user its only one, with
    an audit event per endpoint given one.

    Returns how many endpoints were given one (a test user added after the endpoints).
    """
    user = default_test_user_pick(customer_auth=customer_auth)
    if user is None:
        return 0
    filled = 0
    for endpoint in Endpoint.objects.filter(customer_auth=customer_auth, default_test_user=None):
        # Conditional: an endpoint given a test user meanwhile keeps it.
        unset = Endpoint.objects.filter(pk=endpoint.pk, default_test_user=None)
        if not unset.update(default_test_user=user, updated_at=clock.now()):
            continue
        endpoint.default_test_user = user
        audit_record(
            action=AuditAction.CHANGE,
            actor=actor,
            request=request,
            obj=endpoint,
            changed_fields=["default_test_user"],
            detail={"event": "default_test_user_fill", "test_user_id": user.pk},
        )
        filled += 1
    return filled
