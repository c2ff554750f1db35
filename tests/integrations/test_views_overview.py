"""The overview page and its JSON twin: the right numbers, filters, login, fixed query count."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from integrations import clock
from integrations.choices import HealthState
from integrations.models import EndpointHealth
from integrations.services.rollups import hour_of
from tests.factories import make_endpoint, make_environment, make_user
from tests.integrations.dashboard_world import DashboardWorld, dashboard_world_build, rollup

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> DashboardWorld:
    return dashboard_world_build()


@pytest.fixture
def viewer(client: Client) -> Client:
    client.force_login(make_user("viewer", staff=False))
    return client


def rows_by_env(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{r['customer']}/{r['environment']}": r for r in body["results"]}


def test_overview_json_has_each_environments_numbers(world: DashboardWorld, viewer: Client) -> None:
    response = viewer.get("/api/v1/overview/")
    assert response.status_code == 200
    acme = rows_by_env(response.json())["acme/uat"]
    assert acme["state"] == "down"
    assert acme["states"] == {
        "unknown": 1,
        "healthy": 1,
        "degraded": 0,
        "down": 1,
        "blocked_by_auth": 0,
    }
    assert acme["endpoints"] == 3
    assert acme["p95_ms"] == 500.0  # from the 24 h rollups, not the slow hour 3 days ago
    assert acme["failing_step"] == "oauth_token"
    assert 590 <= acme["token_expires_in_s"] <= 600  # alice's session, in 10 minutes
    assert acme["credentials_failing"] == 1  # bob failed 3 times in a row
    assert acme["last_probe_at"] is not None


def test_overview_json_lists_the_worst_environment_first(
    world: DashboardWorld, viewer: Client
) -> None:
    body = viewer.get("/api/v1/overview/").json()
    assert [r["environment"] for r in body["results"]] == ["uat", "prod"]
    assert body["count"] == 2 and body["next"] is None
    assert body["totals"] == {
        "unknown": 1,
        "healthy": 2,
        "degraded": 0,
        "down": 1,
        "blocked_by_auth": 0,
    }
    globex = rows_by_env(body)["globex/prod"]
    assert globex["state"] == "healthy" and globex["p95_ms"] == 10.0
    assert globex["token_expires_in_s"] is None and globex["credentials_failing"] == 0


def test_overview_json_filters_by_customer_and_state(world: DashboardWorld, viewer: Client) -> None:
    by_customer = viewer.get("/api/v1/overview/", {"customer": "globex"}).json()
    assert list(rows_by_env(by_customer)) == ["globex/prod"]
    down = viewer.get("/api/v1/overview/", {"state": "down"}).json()
    assert list(rows_by_env(down)) == ["acme/uat"]
    healthy = viewer.get("/api/v1/overview/", {"state": "healthy"}).json()
    assert set(rows_by_env(healthy)) == {"acme/uat", "globex/prod"}  # any endpoint healthy


def test_overview_json_is_paged_worst_first(world: DashboardWorld, viewer: Client) -> None:
    first = viewer.get("/api/v1/overview/", {"page_size": 1}).json()
    assert [r["environment"] for r in first["results"]] == ["uat"]
    assert first["count"] == 2 and "page=2" in first["next"]
    second = viewer.get(first["next"]).json()
    assert [r["environment"] for r in second["results"]] == ["prod"]
    assert second["results"][0]["p95_ms"] == 10.0  # every page gets its figures


def test_overview_json_refuses_an_unknown_state(world: DashboardWorld, viewer: Client) -> None:
    response = viewer.get("/api/v1/overview/", {"state": "sideways"})
    assert response.status_code == 400
    assert "state" in response.json()["error"]["details"]


def test_overview_json_needs_authentication(world: DashboardWorld, client: Client) -> None:
    assert client.get("/api/v1/overview/").status_code == 401


def test_overview_page_shows_the_numbers(world: DashboardWorld, viewer: Client) -> None:
    response = viewer.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    row = html[html.index(f'id="env-{world.acme_uat.pk}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-state="down"' in row
    assert "500 ms" in row
    assert "oauth_token" in row
    assert "9m" in row or "10m" in row  # nearest token expiry, 10 minutes
    assert 'href="/customers/acme/uat/"' in row
    assert 'data-live-url="/?partial=1&amp;page=1"' in html  # the live refresh polls this


def test_overview_page_filters_by_customer_and_state(world: DashboardWorld, viewer: Client) -> None:
    html = viewer.get("/", {"customer": "acme"}).content.decode()
    assert f'id="env-{world.acme_uat.pk}"' in html
    assert f'id="env-{world.globex_prod.pk}"' not in html
    html = viewer.get("/", {"state": "down"}).content.decode()
    assert f'id="env-{world.globex_prod.pk}"' not in html
    assert "partial=1&amp;state=down&amp;page=1" in html  # the live refresh keeps the filter


def test_overview_fragment_is_only_the_live_part(world: DashboardWorld, viewer: Client) -> None:
    html = viewer.get("/", {"partial": "1"}).content.decode()
    assert html.lstrip().startswith('<ul class="totals">')
    assert "<html" not in html and f'id="env-{world.acme_uat.pk}"' in html


def test_overview_page_shows_a_hundred_environments_a_page_worst_first(
    world: DashboardWorld, viewer: Client
) -> None:
    for _ in range(100):
        make_environment()
    first = viewer.get("/").content.decode()
    assert first.count('<tr id="env-') == 100
    assert f'id="env-{world.acme_uat.pk}"' in first  # down, so on the first page
    assert "Environments 1 to 100 of 102" in first and "page=2" in first
    second = viewer.get("/", {"page": "2"}).content.decode()
    assert second.count('<tr id="env-') == 2
    assert f'id="env-{world.globex_prod.pk}"' in second  # healthy comes last
    assert "<strong>102</strong> environments" in second  # totals count every page


def test_overview_json_matches_its_documented_shape(world: DashboardWorld, viewer: Client) -> None:
    from integrations.api.overview import OverviewRowSerializer

    row = viewer.get("/api/v1/overview/").json()["results"][0]
    assert set(row) == set(OverviewRowSerializer().fields)


def test_overview_page_sends_anonymous_visitors_to_the_login_page(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/")


def test_overview_page_refuses_a_user_without_a_role(client: Client) -> None:
    client.force_login(make_user(None))
    assert client.get("/").status_code == 403


def test_admin_stays_where_it_was(client: Client) -> None:
    assert client.get("/admin/").status_code == 302  # to the admin login page


def _fleet(endpoints: int) -> None:
    """``endpoints`` endpoints over a few environments, each with health and rollups."""

    envs = [make_environment() for _ in range(3)]
    for n in range(endpoints):
        endpoint = make_endpoint(environment=envs[n % 3])
        EndpointHealth.objects.create(endpoint=endpoint, state=HealthState.HEALTHY)
        rollup(endpoint, hour_of(clock.now()), bucket_2=5)


@pytest.mark.parametrize("endpoints", [5, 50])
def test_overview_queries_do_not_grow_with_endpoints(
    endpoints: int, viewer: Client, django_assert_max_num_queries: Any
) -> None:
    _fleet(endpoints)
    # Session, user and role; one aggregate over every environment; five more for the
    # page's rows (rollups, failing steps, monitoring gaps, two token caches); the page's
    # customer list.
    with django_assert_max_num_queries(9):
        assert viewer.get("/api/v1/overview/").status_code == 200
    with django_assert_max_num_queries(10):
        assert viewer.get("/").status_code == 200
