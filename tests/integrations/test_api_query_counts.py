"""List endpoints cost the same number of queries for 3 rows as for 12."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations import clock
from integrations.choices import RefreshOutcome
from integrations.models import UserSession
from tests.factories import make_customer_auth, make_environment, make_test_user
from tests.integrations.api_world import client_as

pytestmark = pytest.mark.django_db


def failing_test_users(count: int) -> None:
    """Test users, each of its own customer auth, whose last login failed a moment ago."""
    for _ in range(count):
        auth = make_customer_auth(environment=make_environment())
        user = make_test_user(customer_auth=auth)
        UserSession.objects.create(
            test_user=user,
            last_outcome=RefreshOutcome.FAILED,
            last_error_code="auth_failed",
            last_error_at=clock.now(),
            consecutive_failures=1,
        )


def queries_of_test_user_list(listed: int) -> int:
    client = client_as("engineer")
    client.get("/api/v1/test-users/")  # the client's login and caches, not counted
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/test-users/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == listed and all(row["session"]["next_attempt_at"] for row in rows)
    return len(queries)


def test_the_test_user_list_costs_no_query_per_test_user() -> None:
    failing_test_users(3)
    three = queries_of_test_user_list(3)
    failing_test_users(9)
    assert queries_of_test_user_list(12) == three
