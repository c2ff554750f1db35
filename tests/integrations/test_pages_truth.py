"""The dashboards say what is true: badges follow the state, slow probes are marked slow,
percentiles read from buckets are bounds, uptime of a never-working endpoint is 0 %, a
failing refresh is not shown as a healthy expiry, alerts that go nowhere say so, and
every time carries its time zone."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from integrations import clock
from integrations.choices import HealthState
from integrations.models import Endpoint, EndpointHealth, HourlyRollup, ReadinessReport
from integrations.services.probe_runs import endpoint_probe_now
from integrations.services.rollups import hour_of
from integrations.services.tokens import AuthStepFailed, access_token_get
from tests.factories import make_endpoint, make_user
from tests.helpers import moving_clock
from tests.integrations.dashboard_world import DashboardWorld, dashboard_world_build, rollup

pytestmark = pytest.mark.django_db

PAGE = "/customers/acme/uat/"
DEMO_PAGE = "/customers/demo-bank/uat/"
TIME = re.compile(r'<time datetime="([^"]+)">([^<]*)</time>')


@pytest.fixture
def world() -> DashboardWorld:
    return dashboard_world_build()


@pytest.fixture
def viewer(client: Client) -> Client:
    client.force_login(make_user("viewer", staff=False))
    return client


def row_of(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def endpoint_badge_src(html: str, slug: str) -> str:
    found = re.search(rf'src="(/badges/[^"]*/{slug}\.svg\?v=[^"]+)"', html)
    assert found, f"no versioned badge of {slug}"
    return found.group(1)


def environment_badge_src(html: str) -> str:
    found = re.search(r'data-live-sync="environment-badge" data-src="([^"]+)"', html)
    assert found, "the live part carries no environment badge URL"
    return found.group(1)


# --- 1. badges -------------------------------------------------------------------


def test_a_badge_must_be_revalidated_and_answers_304_only_while_unchanged(
    world: DashboardWorld, viewer: Client
) -> None:
    first = viewer.get("/badges/acme/uat/getprofile.svg")
    assert "no-cache" in first["Cache-Control"] and "max-age=0" in first["Cache-Control"]
    etag = first["ETag"]
    assert viewer.get("/badges/acme/uat/getprofile.svg", HTTP_IF_NONE_MATCH=etag).status_code == 304
    EndpointHealth.objects.filter(pk=world.healthy.pk).update(state=HealthState.DOWN)
    changed = viewer.get("/badges/acme/uat/getprofile.svg", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and ">down</text>" in changed.content.decode()
    assert changed["ETag"] != etag


def test_the_live_part_gives_every_badge_a_new_url_when_its_state_changes(
    world: DashboardWorld, viewer: Client
) -> None:
    page = viewer.get(PAGE).content.decode()
    before = viewer.get(PAGE, {"partial": 1}).content.decode()
    assert f'id="environment-badge" alt="status badge" src="{environment_badge_src(before)}"' in (
        page.replace("&amp;", "&")
    )  # the page head's badge is the one the live part keeps current
    EndpointHealth.objects.filter(pk=world.globex_ok.pk).update(state=HealthState.DOWN)
    unrelated = viewer.get(PAGE, {"partial": 1}).content.decode()
    assert endpoint_badge_src(unrelated, "getprofile") == endpoint_badge_src(before, "getprofile")
    EndpointHealth.objects.filter(pk=world.healthy.pk).update(
        state=HealthState.DOWN, state_since=clock.now()
    )
    after = viewer.get(PAGE, {"partial": 1}).content.decode()
    assert endpoint_badge_src(after, "getprofile") != endpoint_badge_src(before, "getprofile")
    assert environment_badge_src(after) != environment_badge_src(before)
    assert ">down</text>" in viewer.get(endpoint_badge_src(after, "getprofile")).content.decode()


# --- 2. latency budget -----------------------------------------------------------


def test_a_probe_over_the_latency_budget_is_marked_slow_on_the_environment_page(
    demo_endpoint: Endpoint, sandbox: Any, viewer: Client
) -> None:
    environment = demo_endpoint.environment
    environment.latency_budget_ms = 200
    environment.save()
    sandbox.set_faults(latency_ms=300)  # the sandbox answers every route after 300 ms
    assert endpoint_probe_now(endpoint=demo_endpoint).ok
    slow = row_of(viewer.get(DEMO_PAGE).content.decode(), 'id="endpoint-getprofile"')
    assert '<span class="chip slow"' in slow and "slow: over the 200 ms budget" in slow
    sandbox.set_faults(latency_ms=0)
    assert endpoint_probe_now(endpoint=demo_endpoint).ok
    fast = row_of(viewer.get(DEMO_PAGE).content.decode(), 'id="endpoint-getprofile"')
    assert "slow" not in fast  # it follows the last probe


# --- 3. percentiles from buckets -------------------------------------------------


def test_the_overview_p95_says_it_is_a_bucket_upper_bound(
    world: DashboardWorld, viewer: Client
) -> None:
    HourlyRollup.objects.filter(endpoint=world.globex_ok).delete()
    rollup(world.globex_ok, hour_of(clock.now()), bucket_8=20)  # (1 s, 2.5 s]
    html = viewer.get("/").content.decode()
    assert "p95 (24 h), upper bound" in html
    cell = row_of(html, f'id="env-{world.globex_prod.pk}"').split('class="num p95">')[1]
    assert cell.startswith("≤ 2.5 s</td>")
    HourlyRollup.objects.filter(endpoint=world.globex_ok).update(bucket_8=0, bucket_inf=20)
    html = viewer.get("/").content.decode()
    cell = row_of(html, f'id="env-{world.globex_prod.pk}"').split('class="num p95">')[1]
    assert cell.startswith("&gt; 10 s</td>")  # the open-ended bucket has no upper bound


# --- 4. uptime -------------------------------------------------------------------


def uptime_cell(html: str, slug: str) -> str:
    cells = row_of(html, f'id="endpoint-{slug}"').split("<td")
    return re.sub(r"<[^>]+>", "", "<td" + cells[5]).split("missed")[0].strip()


def test_an_endpoint_that_never_succeeded_shows_0_percent_and_one_never_probed_a_dash(
    demo_endpoint: Endpoint, sandbox: Any, viewer: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = moving_clock(monkeypatch)
    make_endpoint(environment=demo_endpoint.environment, slug="never", path="/never")
    sandbox.set_faults(error_rate=1.0, error_status=503)
    assert not endpoint_probe_now(endpoint=demo_endpoint).ok
    ahead(15)
    html = viewer.get(DEMO_PAGE).content.decode()
    assert uptime_cell(html, "getprofile") == "— / — / —"  # failing, never up: not 100 %
    for _ in range(2):  # the failure threshold: down
        assert not endpoint_probe_now(endpoint=demo_endpoint).ok
        ahead(15)
    ahead(60)
    html = viewer.get(DEMO_PAGE).content.decode()
    assert EndpointHealth.objects.get(pk=demo_endpoint.pk).state == HealthState.DOWN
    assert uptime_cell(html, "getprofile") == "0.00 % / 0.00 % / 0.00 %"
    assert uptime_cell(html, "never") == "— / — / —"


# --- 5. failing refresh ----------------------------------------------------------


def test_a_credential_whose_refresh_fails_says_so_beside_its_cached_expiry(
    demo_endpoint: Endpoint, sandbox: Any, viewer: Client
) -> None:
    client = demo_endpoint.oauth_client
    assert client is not None
    access_token_get(oauth_client=client)  # a good token, valid for 8 h
    sandbox.set_faults(reject=["client"])
    with pytest.raises(AuthStepFailed):
        access_token_get(oauth_client=client, force=True)
    html = viewer.get(DEMO_PAGE).content.decode()
    expiry = credential_expiry_cell(html)
    assert "last refresh failed" in expiry and "invalid_client" in expiry
    assert re.search(r"cached token expires in 7h 5\dm", expiry), expiry
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", expiry)  # when it last failed
    assert 'class="failing"' in html[html.index('id="credentials-table"') :].split("</tr>")[1]


def credential_expiry_cell(html: str) -> str:
    return row_of(html, "<code>demo-client</code>").split("<td")[1]  # the cell after the name


def overview_cells(viewer: Client, environment_id: int) -> tuple[str, str]:
    """The overview row's token expiry cell and its failing refresh count cell."""
    row = row_of(viewer.get("/").content.decode(), f'id="env-{environment_id}"')
    cells = row.split("<td")
    return cells[8], cells[9]


def test_refresh_failing_means_the_same_on_the_overview_and_the_environment_page(
    demo_endpoint: Endpoint,
    sandbox: Any,
    viewer: Client,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.TOKEN_FAILING_AFTER = 2
    ahead = moving_clock(monkeypatch)
    client = demo_endpoint.oauth_client
    assert client is not None
    access_token_get(oauth_client=client)
    sandbox.set_faults(reject=["client"])
    with pytest.raises(AuthStepFailed):
        access_token_get(oauth_client=client, force=True)

    # One failure: said on the environment page, not yet counted as failing anywhere.
    expiry = credential_expiry_cell(viewer.get(DEMO_PAGE).content.decode())
    assert "last refresh failed" in expiry and "refresh failing" not in expiry
    token_cell, count_cell = overview_cells(viewer, demo_endpoint.environment_id)
    assert "refresh failing" not in token_cell
    assert count_cell.startswith(' class="num">0</td>'), count_cell

    ahead(settings.TOKEN_FAILURE_COOLDOWN_MAX_S + 1)  # past the failure's cool-down
    with pytest.raises(AuthStepFailed):
        access_token_get(oauth_client=client, force=True)

    # TOKEN_FAILING_AFTER in a row: "refresh failing" on both pages, and counted.
    expiry = credential_expiry_cell(viewer.get(DEMO_PAGE).content.decode())
    assert "refresh failing" in expiry and "last refresh failed" not in expiry
    token_cell, count_cell = overview_cells(viewer, demo_endpoint.environment_id)
    assert "<strong>refresh failing</strong>" in token_cell
    assert count_cell.startswith(' class="num bad">1</td>'), count_cell


# --- 6. alert delivery off -------------------------------------------------------


def test_alert_delivery_off_is_said_on_the_overview_the_environment_page_and_the_api(
    world: DashboardWorld, viewer: Client, settings: Any
) -> None:
    settings.ALERT_WEBHOOK_URL, settings.ALERT_EMAILS = "", []
    for url in ("/", PAGE):
        assert "Alert delivery is off" in viewer.get(url).content.decode()
        assert "PORTAL_ALERT_WEBHOOK_URL" in viewer.get(url).content.decode()
    delivery = viewer.get("/api/v1/overview/").json()["alert_delivery"]
    assert delivery["enabled"] is False and "PORTAL_ALERT_WEBHOOK_URL" in delivery["notice"]
    settings.ALERT_EMAILS = ["oncall@example.com"]
    for url in ("/", PAGE):
        assert "Alert delivery is off" not in viewer.get(url).content.decode()
    delivery = viewer.get("/api/v1/overview/").json()["alert_delivery"]
    assert delivery == {"enabled": True, "channels": ["email"], "notice": ""}


# --- 7. one time format ----------------------------------------------------------


def times_check(html: str, zone: str, offsets: tuple[str, ...]) -> int:
    """Every <time> shows "YYYY-MM-DD HH:MM:SS <zone>" with an ISO value in that zone,
    and no time of day appears outside one."""
    found = TIME.findall(html)
    for iso, text in found:
        assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d {zone}", text), text
        assert iso.endswith(offsets), iso
    outside = TIME.sub("", html)
    # The chart's hour ticks are axis labels; its legend names their zone (checked below).
    outside = re.sub(r'<svg class="chart".*?</svg>', "", outside, flags=re.S)
    assert not re.search(r"\b\d\d:\d\d(:\d\d)?\b", re.sub(r"<[^>]+>", " ", outside))
    return len(found)


def test_every_time_on_the_dashboards_is_in_one_format_with_its_time_zone(
    world: DashboardWorld, viewer: Client, settings: Any
) -> None:
    ReadinessReport.objects.create(
        environment=world.acme_uat,
        actor_label="system",
        started_at=clock.now() - timedelta(minutes=3),
        finished_at=clock.now(),
    )
    settings.TIME_ZONE = "Europe/Berlin"
    overview = viewer.get("/").content.decode()
    assert times_check(overview, "CES?T", ("+01:00", "+02:00")) >= 2
    page = viewer.get(PAGE).content.decode()
    assert times_check(page, "CES?T", ("+01:00", "+02:00")) >= 6  # probes, failures, changes
    assert re.search(r"times in CES?T</p>", page)
    settings.TIME_ZONE = "UTC"
    page = viewer.get(PAGE).content.decode()
    assert times_check(page, "UTC", ("+00:00",)) >= 6


def test_the_readiness_report_shows_its_time_with_the_time_zone(
    world: DashboardWorld, client: Client
) -> None:
    report = ReadinessReport.objects.create(
        environment=world.acme_uat,
        actor_label="system",
        started_at=clock.now(),
        finished_at=clock.now(),
    )
    client.force_login(make_user("admin", is_superuser=True))
    html = client.get(f"/admin/integrations/readinessreport/{report.pk}/change/").content.decode()
    summary = html[html.index('id="readiness-summary"') :].split("</p>")[0]
    assert TIME.search(summary) and " UTC</time>" in summary
