"""One endpoint's page: heartbeat of its last probes, state, transitions, test calls, tokens,
badge; probes recorded by the real path against the bundled sandbox over a socket.

The world has two customers with two environments each, and every environment has an
endpoint with the same slug, so a page that reads by slug alone would show another's data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations import clock
from integrations.choices import MissedReason
from integrations.models import AccessToken, Endpoint, ProbeResult, UserSession
from integrations.services.demo import DEMO_API_KEY, DEMO_CLIENT_SECRET, DEMO_USERS
from integrations.services.probe_recording import MissedSlot, missed_slots_record
from integrations.services.probe_runs import endpoint_probe_now
from integrations.services.test_calls import test_call_run
from integrations.templatetags.portal import portal_time_text
from tests.factories import (
    make_customer,
    make_endpoint,
    make_environment,
    make_oauth_client,
    make_user,
)
from tests.helpers import moving_clock

pytestmark = pytest.mark.django_db

BEAT = re.compile(r'<li class="beat-(\w+)" data-outcome="\w+" title="([^"]*)" aria-label="([^"]*)"')


@dataclass
class World:
    demo: Endpoint  # demo-bank/uat/getprofile: the sandbox with every credential
    twins: dict[str, Endpoint]  # "customer/environment" -> another endpoint slugged getprofile
    ahead: Callable[[float], None]


@pytest.fixture
def world(demo_endpoint: Endpoint, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> World:
    """demo-bank/uat (the demo), demo-bank/prod, rival/uat and rival/prod: all with a
    getprofile endpoint on the sandbox; the three twins carry no credentials."""
    demo_bank = demo_endpoint.environment.customer
    rival = make_customer(name="Rival Bank", slug="rival")
    envs = [
        make_environment(customer=demo_bank, name="Production", slug="prod", base_url=sandbox.url),
        make_environment(customer=rival, name="UAT", slug="uat", base_url=sandbox.url),
        make_environment(customer=rival, name="Production", slug="prod", base_url=sandbox.url),
    ]
    twins = {
        f"{env.customer.slug}/{env.slug}": make_endpoint(
            environment=env, name=f"Profile of {env}", slug="getprofile"
        )
        for env in envs
    }
    return World(demo_endpoint, twins, moving_clock(monkeypatch))


@pytest.fixture
def viewer(client: Client) -> Client:
    client.force_login(make_user("viewer", staff=False))
    return client


def page_url(endpoint: Endpoint, **query: Any) -> str:
    env = endpoint.environment
    url = reverse("integrations:endpoint", args=[env.customer.slug, env.slug, endpoint.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def probes(world: World, endpoint: Endpoint, count: int, *, every_s: float = 60) -> None:
    """``count`` probes as the 'Probe now' button or a worker records them, a minute apart."""
    for _ in range(count):
        endpoint_probe_now(endpoint=endpoint)
        world.ahead(every_s)


def beats(html: str) -> list[tuple[str, str]]:
    """(outcome, title) of each heartbeat block, left to right; title and aria-label agree."""
    found = BEAT.findall(html)
    assert all(title == label for _, title, label in found)
    return [(outcome, title) for outcome, title, _ in found]


def shown_at(result: ProbeResult) -> str:
    """The result's moment as the page words every moment (a literal is checked below)."""
    return portal_time_text(result.started_at)


def stored(endpoint: Endpoint) -> list[ProbeResult]:
    return list(ProbeResult.objects.filter(endpoint=endpoint).order_by("started_at"))


# --- content ------------------------------------------------------------------------------


def test_a_healthy_endpoint_shows_its_probes_oldest_first_as_they_were_stored(
    world: World, viewer: Client
) -> None:
    probes(world, world.demo, 3)
    html = viewer.get(page_url(world.demo)).content.decode()

    assert 'data-state="healthy"' in html
    shown = beats(html)
    assert [outcome for outcome, _ in shown] == ["ok", "ok", "ok"]
    for (_, title), result in zip(shown, stored(world.demo), strict=True):
        assert title.startswith(f"{shown_at(result)}: ok · ")
        assert "HTTP 200" in title and " ms" in title
    assert "3 of 3 ok · 0 failed · 0 missed" in html
    assert "<code>POST /account/getprofile</code>" in html
    assert 'href="/customers/demo-bank/uat/"' in html  # the environment it belongs to
    assert 'href="/?customer=demo-bank"' in html
    assert "Last probe: <time" in html and "monitoring gap" not in html


@pytest.mark.parametrize(
    ("time_zone", "shown"),
    [("UTC", "2026-12-02 21:44:13 UTC"), ("Europe/Paris", "2026-12-02 22:44:13 CET")],
)
def test_a_heartbeat_block_tells_its_moment_in_the_portals_time_zone(
    world: World, viewer: Client, settings: Any, time_zone: str, shown: str
) -> None:
    settings.TIME_ZONE = time_zone
    probes(world, world.demo, 1)
    moment = datetime(2026, 12, 2, 21, 44, 13, tzinfo=UTC)
    ProbeResult.objects.filter(endpoint=world.demo).update(started_at=moment)
    html = viewer.get(page_url(world.demo)).content.decode()

    [(_, title)] = beats(html)
    assert title.startswith(f"{shown}: ok · ")


def test_a_down_endpoint_shows_red_blocks_with_their_errors_and_the_transitions(
    world: World, viewer: Client, sandbox: Any
) -> None:
    probes(world, world.demo, 1)
    sandbox.set_faults(error_rate=1.0, error_status=503)
    probes(world, world.demo, 3)
    html = viewer.get(page_url(world.demo)).content.decode()

    assert 'data-state="down"' in html
    shown = beats(html)
    assert [outcome for outcome, _ in shown] == ["ok", "failed", "failed", "failed"]
    for (_, title), result in zip(shown[1:], stored(world.demo)[1:], strict=True):
        assert title.startswith(f"{shown_at(result)}: failed · ")
        assert "HTTP 503" in title and result.error_code in title
    assert "1 of 4 ok · 3 failed · 0 missed" in html
    timeline = html[
        html.index('id="transitions"') : html.index("</ol>", html.index('id="transitions"'))
    ]
    newest, *_ = timeline.split("</li>")
    assert 'state-degraded">Degraded</span> → <span class="state state-down">Down' in newest
    assert 'state-unknown">Unknown</span> → <span class="state state-healthy">Healthy' in timeline


def test_a_never_probed_endpoint_says_so_and_draws_no_blocks(world: World, viewer: Client) -> None:
    html = viewer.get(page_url(world.twins["rival/uat"])).content.decode()

    assert 'data-state="unknown"' in html
    assert "Last probe: never" in html
    assert "No probes recorded yet." in html
    assert beats(html) == [] and 'class="heartbeat"' not in html
    assert "No state changes yet." in html and "No test calls yet." in html
    assert "uses no OAuth client and no default test user" in html


def test_missed_slots_are_grey_blocks_in_their_place(world: World, viewer: Client) -> None:
    probes(world, world.demo, 1)
    gap_start = clock.now()
    world.ahead(120)
    # What the dispatcher records after a broker outage: the slots nobody probed.
    missed_slots_record(
        missed=[
            MissedSlot(world.demo.pk, gap_start, MissedReason.BROKER_DOWN),
            MissedSlot(world.demo.pk, gap_start + (clock.now() - gap_start) / 2, "broker_down"),
        ],
        now=clock.now(),
    )
    probes(world, world.demo, 1)
    html = viewer.get(page_url(world.demo)).content.decode()

    shown = beats(html)
    assert [outcome for outcome, _ in shown] == ["ok", "missed", "missed", "ok"]
    for (_, title), result in zip(shown, stored(world.demo), strict=True):
        assert title.startswith(shown_at(result))
    assert "missed, not probed (broker down)" in shown[1][1]
    assert "2 of 4 ok · 0 failed · 2 missed" in html


def test_the_heartbeat_shows_the_last_fifty_probes_in_a_bounded_number_of_queries(
    world: World, viewer: Client, django_assert_max_num_queries: Any
) -> None:
    probes(world, world.demo, 55, every_s=1)
    test_call_run(endpoint=world.demo, test_user=None, actor=make_user("engineer"))
    viewer.get(page_url(world.demo))  # the session and role are read once per request anyway

    with django_assert_max_num_queries(9):
        html = viewer.get(page_url(world.demo)).content.decode()
    with django_assert_max_num_queries(7):
        partial = viewer.get(page_url(world.demo, partial=1)).content.decode()

    newest = stored(world.demo)[-50:]
    assert [title.split(": ")[0] for _, title in beats(html)] == [shown_at(r) for r in newest]
    assert beats(partial) == beats(html)
    assert "50 of 50 ok" in html
    assert len(beats(viewer.get(page_url(world.demo, probes=10)).content.decode())) == 10


# --- isolation and 404 -------------------------------------------------------------------


def test_an_endpoint_with_the_same_slug_elsewhere_never_leaks_in(
    world: World, viewer: Client
) -> None:
    probes(world, world.demo, 2)
    probes(world, world.twins["rival/prod"], 1)
    test_call_run(endpoint=world.twins["demo-bank/prod"], test_user=None, actor=make_user())

    demo = viewer.get(page_url(world.demo)).content.decode()
    assert [o for o, _ in beats(demo)] == ["ok", "ok"] and "No test calls yet." in demo
    rival = viewer.get(page_url(world.twins["rival/prod"])).content.decode()
    assert [o for o, _ in beats(rival)] == ["failed"] and "Profile of" in rival
    assert "demo-client" not in rival  # the demo's OAuth client is not this endpoint's
    sibling = viewer.get(page_url(world.twins["demo-bank/prod"])).content.decode()
    assert beats(sibling) == [] and "No test calls yet." not in sibling
    assert beats(viewer.get(page_url(world.twins["rival/uat"])).content.decode()) == []


@pytest.mark.parametrize(
    "path",
    [
        "/customers/nobody/uat/endpoints/getprofile/",
        "/customers/demo-bank/staging/endpoints/getprofile/",
        "/customers/demo-bank/uat/endpoints/nothing/",
        "/customers/rival/uat/endpoints/only-in-demo/",
    ],
)
def test_unknown_slugs_answer_404(world: World, viewer: Client, path: str) -> None:
    make_endpoint(environment=world.demo.environment, slug="only-in-demo")
    assert viewer.get(path).status_code == 404


# --- live refresh and the badge ----------------------------------------------------------


def badge_src(html: str) -> str:
    return re.search(r'id="endpoint-badge" alt="[^"]*" src="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_the_live_part_refreshes_alone_and_its_badge_changes_with_the_state(
    world: World, viewer: Client, sandbox: Any
) -> None:
    probes(world, world.demo, 1)
    page = viewer.get(page_url(world.demo)).content.decode()
    assert (
        'data-live-url="/customers/demo-bank/uat/endpoints/getprofile/?partial=1&amp;probes=50"'
        in page
    )
    healthy = viewer.get(page_url(world.demo, partial=1)).content.decode()
    assert "<html" not in healthy and 'id="heartbeat"' in healthy
    assert badge_src(healthy) == badge_src(page)

    sandbox.set_faults(error_rate=1.0)
    probes(world, world.demo, 3)
    down = viewer.get(page_url(world.demo, partial=1)).content.decode()
    assert 'data-state="down"' in down and badge_src(down) != badge_src(healthy)
    assert badge_src(down).startswith("/badges/demo-bank/uat/getprofile.svg?v=down-")
    assert ">down<" in viewer.get(badge_src(down)).content.decode()


def test_the_embed_snippets_use_the_stable_badge_url(world: World, viewer: Client) -> None:
    html = viewer.get(page_url(world.demo)).content.decode()
    badge = "http://testserver/badges/demo-bank/uat/getprofile.svg"
    page = "http://testserver/customers/demo-bank/uat/endpoints/getprofile/"
    assert f"[![Get profile: portal status]({badge})]({page})" in html
    assert f'&lt;a href="{page}"&gt;&lt;img src="{badge}"' in html


# --- who sees what -----------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(world: World, client: Client) -> None:
    for url in (page_url(world.demo), page_url(world.demo, partial=1)):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"]


def test_a_viewer_sees_no_probe_button_and_no_admin_links(world: World, viewer: Client) -> None:
    test_call_run(endpoint=world.demo, test_user=None, actor=make_user("engineer"))
    html = viewer.get(page_url(world.demo)).content.decode()
    assert "Probe now" not in html and "/probe/" not in html
    assert "Run test call" not in html and "/admin/" not in html
    assert "PASS" in html  # the test call itself is listed


def test_an_engineer_probes_from_the_page_and_staff_reach_the_admin_pages(
    world: World, client: Client
) -> None:
    engineer = make_user("engineer", staff=True)
    call = test_call_run(endpoint=world.demo, test_user=None, actor=engineer)
    client.force_login(engineer)
    html = client.get(page_url(world.demo)).content.decode()
    probe = "/customers/demo-bank/uat/endpoints/getprofile/probe/"
    assert f'action="{probe}"' in html and "Probe now" in html
    assert reverse("admin:integrations_endpoint_test_call", args=[world.demo.pk]) in html
    assert reverse("admin:integrations_testcall_change", args=[call.pk]) in html
    calls = html[html.index('id="test-calls-table"') :]
    assert engineer.get_username() in calls and "alice" in calls and "HTTP 200" in calls

    assert client.post(probe).status_code == 302
    after = client.get(page_url(world.demo)).content.decode()
    assert [o for o, _ in beats(after)] == ["ok"]


def test_probe_now_on_the_endpoint_page_comes_back_to_the_endpoint_page(
    world: World, client: Client
) -> None:
    client.force_login(make_user("engineer"))
    page = page_url(world.demo)
    html = client.get(page).content.decode()
    form = html[html.index('action="/customers/demo-bank/uat/endpoints/getprofile/probe/"') :]
    next_input = re.search(r'<input type="hidden" name="next" value="([^"]*)">', form)
    assert next_input is not None and next_input.group(1) == page

    response = client.post(f"{page}probe/", {"next": next_input.group(1)})
    assert response.status_code == 302 and response["Location"] == page
    assert [o for o, _ in beats(client.get(page).content.decode())] == ["ok"]


@pytest.mark.parametrize(
    "elsewhere", ["https://evil.example/", "//evil.example/customers/", "javascript:alert(1)"]
)
def test_probe_now_never_sends_the_browser_off_the_site(
    world: World, client: Client, elsewhere: str
) -> None:
    client.force_login(make_user("engineer"))
    response = client.post(f"{page_url(world.demo)}probe/", {"next": elsewhere})
    assert response.status_code == 302 and response["Location"] == "/customers/demo-bank/uat/"


def test_the_environment_page_links_each_endpoint_to_its_page(world: World, viewer: Client) -> None:
    html = viewer.get("/customers/demo-bank/uat/?partial=1").content.decode()
    assert '<a href="/customers/demo-bank/uat/endpoints/getprofile/">Get profile</a>' in html


# --- tokens and secrets ------------------------------------------------------------------


def test_the_token_panel_shows_this_endpoints_client_and_test_user(
    world: World, viewer: Client
) -> None:
    probes(world, world.demo, 1)
    html = viewer.get(page_url(world.demo)).content.decode()
    tokens = html[
        html.index('id="credentials-table"') : html.index(
            "</table>", html.index('id="credentials-table"')
        )
    ]
    rows = tokens.split("<tr")[2:]
    assert len(rows) == 2
    assert "OAuth client <code>demo-client</code>" in rows[0] and "in 7h 5" in rows[0]
    assert "Test user <code>alice</code>" in rows[1] and "bob" not in tokens
    assert all("<td>ok</td>" in row for row in rows)


def test_no_secret_reaches_the_page(world: World, viewer: Client) -> None:
    probes(world, world.demo, 2)
    test_call_run(endpoint=world.demo, test_user=None, actor=make_user("engineer"))
    secrets = [DEMO_CLIENT_SECRET, DEMO_API_KEY, *DEMO_USERS.values()]
    for token in (
        AccessToken.objects.get(oauth_client=world.demo.oauth_client).token,
        UserSession.objects.get(test_user=world.demo.default_test_user).token,
    ):
        assert token is not None  # both were fetched by the probes
        secrets.append(token.reveal())
    assert all(secrets) and len(secrets) == 6
    for url in (page_url(world.demo), page_url(world.demo, partial=1)):
        html = viewer.get(url).content.decode()
        assert [s for s in secrets if s in html] == []


def test_a_failing_token_refresh_is_said_before_any_expiry(world: World, viewer: Client) -> None:
    twin = world.twins["rival/uat"]
    twin.oauth_client = make_oauth_client(environment=twin.environment, secret="wrong-secret-77")
    twin.save()
    assert endpoint_probe_now(endpoint=twin).failing_step == "oauth_token"
    html = viewer.get(page_url(twin, partial=1)).content.decode()
    tokens = html[html.index('id="credentials-table"') :]
    assert "last refresh failed" in tokens[: tokens.index("</table>")]
    assert "wrong-secret-77" not in html


def test_a_probe_over_the_latency_budget_is_marked_slow(
    world: World, viewer: Client, sandbox: Any
) -> None:
    probes(world, world.demo, 1)
    assert "slow: over" not in viewer.get(page_url(world.demo)).content.decode()
    env = world.demo.environment
    env.latency_budget_ms = 100
    env.save()
    sandbox.set_faults(latency_ms=150)
    probes(world, world.demo, 1)
    assert "slow: over the 100 ms budget" in viewer.get(page_url(world.demo)).content.decode()


def test_the_page_says_when_alert_delivery_is_off(
    world: World, viewer: Client, settings: Any
) -> None:
    settings.ALERT_WEBHOOK_URL, settings.ALERT_EMAILS = "", []
    assert 'id="alerts-off"' in viewer.get(page_url(world.demo)).content.decode()
    settings.ALERT_EMAILS = ["oncall@example.com"]
    assert 'id="alerts-off"' not in viewer.get(page_url(world.demo)).content.decode()


def test_a_long_history_is_capped_and_costs_the_same_queries(
    world: World, viewer: Client, django_assert_max_num_queries: Any
) -> None:
    now = clock.now()
    ProbeResult.objects.bulk_create(
        ProbeResult(
            endpoint=world.demo,
            due_at=now - timedelta(seconds=n),
            started_at=now - timedelta(seconds=n),
            ok=n % 7 != 0,
            lag_ms=0,
        )
        for n in range(1, 2001)
    )
    viewer.get(page_url(world.demo))
    with django_assert_max_num_queries(9):
        html = viewer.get(page_url(world.demo, probes=5000)).content.decode()
    newest = stored(world.demo)[-200:]
    assert [o for o, _ in beats(html)] == ["ok" if r.ok else "failed" for r in newest]
    assert "Last 200 probes" in html
