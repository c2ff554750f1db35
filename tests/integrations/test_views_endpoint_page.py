"""One endpoint's page: heartbeat of its last probes, state, transitions, test calls, tokens
and a badge that follows the state, in a world of two customers whose endpoints share a slug.

Probes are real: they go through the recording path to the sandbox over a socket.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from integrations import clock
from integrations.choices import IdentifierLocation
from integrations.models import Endpoint, ProbeResult
from integrations.services.probe_runs import endpoint_probe_now
from integrations.services.test_calls import test_call_run
from tests.factories import make_customer, make_environment, make_oauth_client, make_user

pytestmark = pytest.mark.django_db

DEMO_PAGE = "/customers/demo-bank/uat/endpoints/getprofile/"
OTHER_PAGE = "/customers/other-bank/uat/endpoints/getprofile/"
WRONG_SECRET = "not-the-client-secret-1234"


@pytest.fixture
def other_endpoint(demo_endpoint: Endpoint, sandbox: Any) -> Endpoint:
    """A second customer on the same sandbox, with the same slugs and a refused secret."""
    env = make_environment(
        customer=make_customer(name="Other bank", slug="other-bank"),
        name="UAT",
        slug="uat",
        base_url=sandbox.url,
    )
    client = make_oauth_client(environment=env, secret=WRONG_SECRET)
    return Endpoint.objects.create(
        environment=env,
        name="Other profile",
        slug="getprofile",
        oauth_client=client,
        identifier_location=IdentifierLocation.NONE,
        failure_threshold=1,
    )


@pytest.fixture
def viewer(client: Client) -> Client:
    client.force_login(make_user("viewer", staff=False))
    return client


def beats(html: str) -> list[str]:
    return re.findall(r'data-outcome="(\w+)"', html)


def test_the_heartbeat_shows_each_recorded_probe_in_order_and_never_another_customers(
    demo_endpoint: Endpoint, other_endpoint: Endpoint, viewer: Client
) -> None:
    for _ in range(3):
        assert endpoint_probe_now(endpoint=demo_endpoint).ok
    assert not endpoint_probe_now(endpoint=other_endpoint).ok
    ProbeResult.objects.create(
        endpoint=demo_endpoint,
        due_at=clock.now() + timedelta(seconds=1),
        started_at=clock.now() + timedelta(seconds=1),
        ok=False,
        lag_ms=0,
        missed_reason="worker_lost",
    )
    demo = viewer.get(DEMO_PAGE).content.decode()
    assert beats(demo) == ["ok", "ok", "ok", "missed"]
    assert "3 of 4 ok · 0 failed · 1 missed" in demo
    assert "missed, not probed (worker lost)" in demo
    assert 'data-state="healthy"' in demo and "Other profile" not in demo
    other = viewer.get(OTHER_PAGE).content.decode()
    assert beats(other) == ["failed"]
    assert "invalid_client" in other and 'data-state="blocked_by_auth"' in other
    assert WRONG_SECRET not in other and "demo-client-secret" not in demo


def test_a_never_probed_endpoint_says_so(demo_endpoint: Endpoint, viewer: Client) -> None:
    html = viewer.get(DEMO_PAGE).content.decode()
    assert "No probes recorded yet." in html and beats(html) == []
    assert "Last probe: never" in html


def test_the_badge_url_changes_with_the_state_so_the_live_part_refetches_it(
    other_endpoint: Endpoint, viewer: Client
) -> None:
    def badge_src() -> str:
        live = viewer.get(OTHER_PAGE, {"partial": 1}).content.decode()
        assert "<html" not in live  # the live part only
        return re.search(r'id="endpoint-badge"[^>]*src="([^"]+)"', live).group(1)  # type: ignore[union-attr]

    before = badge_src()
    endpoint_probe_now(endpoint=other_endpoint)
    after = badge_src()
    assert before != after and after.startswith(
        "/badges/other-bank/uat/getprofile.svg?v=blocked_by_auth-"
    )


def test_test_calls_and_token_state_are_listed_with_links_for_staff(
    demo_endpoint: Endpoint, client: Client
) -> None:
    staff = make_user("engineer")
    call = test_call_run(endpoint=demo_endpoint, test_user=None, actor=staff)
    client.force_login(staff)
    html = client.get(DEMO_PAGE).content.decode()
    calls = html[html.index('id="test-calls-table"') :]
    assert "PASS" in calls[: calls.index("</table>")]
    assert f"/admin/integrations/testcall/{call.pk}/change/" in calls
    tokens = html[html.index('id="credentials-table"') :]
    tokens = tokens[: tokens.index("</table>")]
    assert (
        "OAuth client <code>demo-client</code>" in tokens
        and "Test user <code>alice</code>" in tokens
    )
    assert tokens.count("in 7h 5") == 2 and tokens.count("<td>ok</td>") == 2
    assert "Probe now" in html


def test_a_viewer_gets_no_probe_button_and_anonymous_goes_to_login(
    demo_endpoint: Endpoint, client: Client
) -> None:
    anonymous = client.get(DEMO_PAGE)
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    client.force_login(make_user("viewer", staff=False))
    html = client.get(DEMO_PAGE).content.decode()
    assert "Probe now" not in html and "/admin/" not in html


def test_unknown_slugs_answer_404(demo_endpoint: Endpoint, viewer: Client) -> None:
    assert viewer.get("/customers/demo-bank/uat/endpoints/nope/").status_code == 404
    assert viewer.get("/customers/demo-bank/prod/endpoints/getprofile/").status_code == 404


def test_the_page_reads_a_bounded_number_of_queries(
    demo_endpoint: Endpoint, viewer: Client, django_assert_max_num_queries: Any
) -> None:
    now = clock.now()
    ProbeResult.objects.bulk_create(
        ProbeResult(
            endpoint=demo_endpoint,
            due_at=now - timedelta(seconds=i),
            started_at=now - timedelta(seconds=i),
            ok=True,
            lag_ms=0,
        )
        for i in range(500)
    )
    with django_assert_max_num_queries(15):
        html = viewer.get(DEMO_PAGE, {"probes": 1000}).content.decode()
    assert len(beats(html)) == 200  # capped
    assert set(beats(html)) == {"ok"}
