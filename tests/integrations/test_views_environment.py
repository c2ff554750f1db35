"""One environment's page: endpoints, chart, uptime, failures, timeline, credentials, probe now."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from integrations import clock
from integrations.choices import HealthState
from integrations.dashboards.charts import latency_chart
from integrations.dashboards.selectors import endpoints_uptimes, recent_failures
from integrations.models import (
    AccessToken,
    Endpoint,
    EndpointHealth,
    HealthTransition,
    HourlyRollup,
    ProbeResult,
    ReadinessReport,
)
from integrations.services.rollups import hour_of
from integrations.services.tokens import access_token_get
from tests.factories import make_user
from tests.integrations.dashboard_world import DashboardWorld, dashboard_world_build

pytestmark = pytest.mark.django_db

PAGE = "/customers/acme/uat/"
DEMO_PAGE = "/customers/demo-bank/uat/"


@pytest.fixture
def world() -> DashboardWorld:
    return dashboard_world_build()


@pytest.fixture
def viewer(client: Client) -> Client:
    client.force_login(make_user("viewer", staff=False))
    return client


def section(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</table>", start)]


def test_page_lists_endpoints_with_state_and_assertions(
    world: DashboardWorld, viewer: Client
) -> None:
    html = viewer.get(PAGE).content.decode()
    endpoints = section(html, 'id="endpoints-table"')
    down = endpoints[endpoints.index('id="endpoint-orders"') :]
    assert 'data-state="down"' in down[: down.index("</tr>")]
    assert "json_exists orders" in down
    assert "invalid_client" in down
    assert 'data-state="unknown"' in endpoints  # never probed


def test_page_shows_the_redacted_failure_and_the_timeline(
    world: DashboardWorld, viewer: Client
) -> None:
    html = viewer.get(PAGE).content.decode()
    failures = section(html, 'id="failures-table"')
    assert "client_secret=[redacted]" in failures and "oauth_token" in failures
    newest, older = html[html.index('id="transitions"') :].split("</li>")[:2]
    assert 'Healthy</span> → <span class="state state-down">Down' in newest
    assert "invalid_client at oauth_token" in newest
    assert 'Unknown</span> → <span class="state state-healthy">Healthy' in older


def test_page_shows_credential_expiry_and_failing_refresh(
    world: DashboardWorld, viewer: Client
) -> None:
    credentials = section(viewer.get(PAGE).content.decode(), 'id="credentials-table"')
    assert "acme-client" in credentials and ("59m" in credentials or "1h 00m" in credentials)
    assert "alice" in credentials and ("9m" in credentials or "10m" in credentials)
    bob = credentials[credentials.index("bob") :]
    assert "(failing)" in bob[: bob.index("</tr>")] and "invalid_credentials" in bob


def test_page_draws_the_latency_chart_from_rollups(world: DashboardWorld, viewer: Client) -> None:
    html = viewer.get(PAGE, {"range": "24h"}).content.decode()
    chart = html[html.index('<svg class="chart"') : html.index("</svg>")]
    assert 'class="p95" d="M' in chart and "No probes in this range" not in chart
    assert 'class="p95" cx=' in chart
    week = viewer.get(PAGE, {"range": "7d", "endpoint": "getprofile"}).content.decode()
    assert "Latency: Get profile" in week


def test_chart_breaks_the_line_over_an_hour_without_probes() -> None:
    now = clock.now().replace(minute=0, second=0, microsecond=0)
    hours = [now - timedelta(hours=h) for h in (5, 4, 1)]
    series = [(hour, 10.0, 100.0) for hour in hours]
    chart = latency_chart(series, since=now - timedelta(hours=24), until=now)
    assert chart.p50_path.count("M") == 2 and chart.p50_path.count("L") == 1
    assert chart.points == 3 and len(chart.x_ticks) >= 4


def test_uptimes_of_many_endpoints_match_the_transitions(world: DashboardWorld) -> None:
    uptimes = endpoints_uptimes(endpoint_ids=[world.down.pk, world.unprobed.pk])
    # Up for one hour, then down for one hour: 50 % of the known time in every window.
    assert uptimes[world.down.pk]["24h"] == pytest.approx(0.5, abs=1e-3)
    assert uptimes[world.down.pk]["30d"] == pytest.approx(0.5, abs=1e-3)
    assert uptimes[world.unprobed.pk] == {"24h": None, "7d": None, "30d": None}


def test_uptime_starts_each_window_in_the_state_before_it(world: DashboardWorld) -> None:
    HealthTransition.objects.create(
        endpoint=world.unprobed,
        at=clock.now() - timedelta(days=40),
        from_state=HealthState.UNKNOWN,
        to_state=HealthState.DOWN,
    )
    HealthTransition.objects.create(
        endpoint=world.unprobed,
        at=clock.now() - timedelta(days=3),
        from_state=HealthState.DOWN,
        to_state=HealthState.HEALTHY,
    )
    uptimes = endpoints_uptimes(endpoint_ids=[world.unprobed.pk])[world.unprobed.pk]
    assert uptimes["24h"] == pytest.approx(1.0)
    assert uptimes["7d"] == pytest.approx(3 / 7, abs=1e-3)
    assert uptimes["30d"] == pytest.approx(3 / 30, abs=1e-3)


def test_live_fragment_holds_the_tables_only(world: DashboardWorld, viewer: Client) -> None:
    html = viewer.get(PAGE, {"partial": "1"}).content.decode()
    assert 'id="endpoints-table"' in html and "<svg" not in html and "<html" not in html


def test_viewers_get_no_probe_or_test_call_buttons(world: DashboardWorld, viewer: Client) -> None:
    html = viewer.get(PAGE).content.decode()
    assert "Probe now" not in html and "Run test call" not in html


def test_engineers_get_probe_and_test_call_buttons(world: DashboardWorld, client: Client) -> None:
    client.force_login(make_user("engineer"))
    html = client.get(PAGE).content.decode()
    assert "Probe now" in html
    assert f'href="/admin/integrations/endpoint/{world.healthy.pk}/test-call/"' in html


def test_unknown_environment_is_404(world: DashboardWorld, viewer: Client) -> None:
    assert viewer.get("/customers/acme/nope/").status_code == 404


def test_page_needs_login(world: DashboardWorld, client: Client) -> None:
    assert client.get(PAGE).status_code == 302


def test_probe_now_probes_the_sandbox_and_records_it(
    demo_endpoint: Endpoint, client: Client
) -> None:
    client.force_login(make_user("engineer"))
    url = "/customers/demo-bank/uat/endpoints/getprofile/probe/"
    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == "/customers/demo-bank/uat/"
    assert "Probed Get profile: OK" in response.content.decode()
    assert ProbeResult.objects.filter(endpoint=demo_endpoint, ok=True).count() == 1
    assert EndpointHealth.objects.get(pk=demo_endpoint.pk).state == HealthState.HEALTHY


def test_probe_now_needs_the_engineer_role_and_post(
    demo_endpoint: Endpoint, client: Client, **_: Any
) -> None:
    url = "/customers/demo-bank/uat/endpoints/getprofile/probe/"
    client.force_login(make_user("viewer"))
    assert client.post(url).status_code == 403
    client.force_login(make_user("engineer"))
    assert client.get(url).status_code == 405
    assert not ProbeResult.objects.exists()


def test_recent_failures_are_found_through_the_hours_that_had_failures(
    world: DashboardWorld,
) -> None:
    now = clock.now()
    earlier = now - timedelta(hours=3)
    HourlyRollup.objects.create(
        endpoint=world.healthy, hour=hour_of(earlier), count=2, successes=1, fail_http_5xx=1
    )
    for at, ok in ((earlier, False), (earlier + timedelta(seconds=1), True)):
        ProbeResult.objects.create(
            endpoint=world.healthy, due_at=at, started_at=at, lag_ms=0, ok=ok, status=503
        )
    failures = recent_failures(endpoint_ids=[world.healthy.pk, world.down.pk])
    assert [(f.endpoint_id, f.ok) for f in failures] == [
        (world.down.pk, False),
        (world.healthy.pk, False),
    ]
    assert recent_failures(endpoint_ids=[world.unprobed.pk]) == []


def test_run_readiness_report_checks_the_sandbox_and_opens_the_report(
    demo_endpoint: Endpoint, client: Client
) -> None:
    client.force_login(make_user("engineer"))
    page = client.get("/customers/demo-bank/uat/").content.decode()
    assert "Run readiness report" in page
    response = client.post("/customers/demo-bank/uat/readiness/")
    report = ReadinessReport.objects.get(environment=demo_endpoint.environment)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/integrations/readinessreport/{report.pk}/change/"
    assert report.fail_count == 0 and report.pass_count > 0


def test_run_readiness_report_needs_the_engineer_role_and_post(
    demo_endpoint: Endpoint, client: Client
) -> None:
    url = "/customers/demo-bank/uat/readiness/"
    client.force_login(make_user("viewer"))
    assert "Run readiness report" not in client.get("/customers/demo-bank/uat/").content.decode()
    assert client.post(url).status_code == 403
    client.force_login(make_user("engineer", staff=False))
    assert client.get(url).status_code == 405
    assert not ReadinessReport.objects.exists()
    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][0] == "/customers/demo-bank/uat/"
    report = ReadinessReport.objects.get()
    assert f"Readiness report for UAT: {report.pass_count} pass, " in response.content.decode()


def credential_row(html: str, name: str) -> str:
    table = section(html, 'id="credentials-table"')
    row = table[table.index(f"<code>{name}</code>") :]
    return row[: row.index("</tr>")]


def test_credentials_say_when_the_next_refresh_is_overdue_never_in_expired(
    demo_endpoint: Endpoint, sandbox: Any, viewer: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.set_faults(token_lifetime_s=60)
    assert demo_endpoint.oauth_client is not None
    access_token_get(oauth_client=demo_endpoint.oauth_client)  # a real fetch from the sandbox
    fresh = credential_row(viewer.get(DEMO_PAGE).content.decode(), "demo-client")
    assert re.search(r'<td class="num">in \d+s</td>', fresh), fresh  # the token, still valid
    assert re.search(r"<td>in \d+s</td>", fresh), fresh  # the next refresh, still ahead
    token = AccessToken.objects.get(oauth_client=demo_endpoint.oauth_client)
    later = token.expires_at + timedelta(seconds=4.5)
    monkeypatch.setattr(clock, "now", lambda: later)

    row = credential_row(viewer.get(DEMO_PAGE).content.decode(), "demo-client")

    assert "expired 4s ago" in row  # the token column
    assert re.search(r"<td>overdue by \d+s</td>", row), row  # the next refresh column
    assert "in expired" not in row and "in overdue" not in row


def test_a_probe_that_got_an_html_page_shows_it_was_html_with_its_first_bytes(
    demo_endpoint: Endpoint, sandbox: Any, client: Client
) -> None:
    demo_endpoint.assertions = [{"type": "json_exists", "path": "customer"}]
    demo_endpoint.save()
    sandbox.set_faults(html_ok=True)
    client.force_login(make_user("engineer"))

    client.post("/customers/demo-bank/uat/endpoints/getprofile/probe/")
    html = client.get(DEMO_PAGE).content.decode()

    row = section(html, 'id="endpoints-table"')
    assert "JSON field &#x27;customer&#x27; could not be checked" in row
    assert "the 200 answer is an HTML page (text/html), not JSON" in row
    assert "it begins: &lt;!DOCTYPE html&gt; &lt;html&gt;&lt;head&gt;&lt;title&gt;Sign in" in row
