"""The default test user of an endpoint: the only active login of its customer auth.

Probes and test calls of an endpoint that sends a customer identifier need a test user;
when its customer auth has exactly one active test user, there is nothing to choose.
"""

from __future__ import annotations

from integrations.models import CustomerAuth, Endpoint, TestUser


def default_test_user_pick(*, customer_auth: CustomerAuth) -> TestUser | None:
    """The customer auth's only active test user; None when it has none or several."""
    users = list(customer_auth.test_users.filter(is_active=True)[:2])
    return users[0] if len(users) == 1 else None


def endpoints_default_test_user_fill(*, customer_auth: CustomerAuth) -> int:
    """Give the customer auth's endpoints without a default test user its only one.

    Returns how many endpoints were given one (a test user added after the endpoints).
    """
    user = default_test_user_pick(customer_auth=customer_auth)
    if user is None:
        return 0
    endpoints = Endpoint.objects.filter(customer_auth=customer_auth, default_test_user=None)
    return endpoints.update(default_test_user=user)
