"""Date filters of the API lists: a date the database cannot hold is a typed 400 naming
the query parameter, never a 500 (PostgreSQL refuses offsets past ±15:59; Python cannot
convert a moment at the edge of years 1 and 9999 to UTC)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.factories import make_user
from tests.integrations.api_world import client_as, error_of, world_build

pytestmark = pytest.mark.django_db

DATETIME_PARAMETERS = [
    ("/api/v1/test-calls/", "created_after"),
    ("/api/v1/test-calls/", "created_before"),
    ("/api/v1/probe-results/", "started_after"),
    ("/api/v1/health-transitions/", "at_before"),
    ("/api/v1/audit-events/", "at_after"),
]
UNSTORABLE = [
    "2026-01-01T00:00:00+24:00",
    "2026-01-01T00:00:00+99:99",
    "2026-01-01T00:00:00-16:00",
    "2026-01-01T00:00:00+16:00",
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
]


@pytest.fixture
def viewer(sandbox: Any) -> APIClient:
    world_build(sandbox_url=sandbox.url)
    return client_as("viewer")


@pytest.mark.parametrize(("path", "param"), DATETIME_PARAMETERS)
@pytest.mark.parametrize("value", UNSTORABLE)
def test_an_unstorable_date_filter_is_a_400_naming_the_parameter(
    viewer: APIClient, path: str, param: str, value: str
) -> None:
    response = viewer.get(path, {param: value})
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid_datetime"
    assert error["message"].startswith(f"Invalid {param}: ")
    assert list(error["details"]) == [param]


def test_offsets_up_to_15_59_filter_and_16_00_is_refused(viewer: APIClient) -> None:
    for value in ("2000-01-01T00:00:00+15:59", "2000-01-01T00:00:00-15:59"):
        response = viewer.get("/api/v1/test-calls/", {"created_after": value})
        assert response.status_code == 200, response.content
        assert response.json()["count"] == 1
    response = viewer.get("/api/v1/test-calls/", {"created_after": "2000-01-01T00:00:00-16:00"})
    assert error_of(response)["code"] == "invalid_datetime"


def test_the_error_names_every_bad_parameter_of_the_request(viewer: APIClient) -> None:
    query = {"at_after": "2026-01-01T00:00:00-16:00", "at_before": "soon"}
    error = error_of(viewer.get("/api/v1/audit-events/", query))
    assert error["code"] == "invalid_datetime"
    assert set(error["details"]) == {"at_after", "at_before"}


def test_a_bad_date_filter_is_invalid_date_naming_the_parameter(viewer: APIClient) -> None:
    response = viewer.get("/api/v1/api-keys/", {"expires_before": "10000-01-01"})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_date"
    assert list(error["details"]) == ["expires_before"]


# Real moments of years 1 to 9999 with any offset up to ±30:59, and plain garbage.
WITH_OFFSET = st.builds(
    "{}{}{:02d}:{:02d}".format,
    st.datetimes().map(lambda moment: moment.isoformat(timespec="seconds")),
    st.sampled_from("+-"),
    st.integers(0, 30),
    st.integers(0, 59),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.one_of(WITH_OFFSET, st.text(max_size=40)))
def test_no_date_filter_value_is_a_server_error(value: str) -> None:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(make_user("viewer"))
    for path, param in DATETIME_PARAMETERS[::2]:
        response = client.get(path, {param: value})
        assert response.status_code in (200, 400), (value, response.content)
