"""In Chromium, the environment page's badges (its head's and each endpoint's) turn with
the live refresh when the state changes, without a reload."""

from __future__ import annotations

from typing import Any

from integrations import clock
from integrations.choices import HealthState
from integrations.dashboards.badges import badge_for
from integrations.models import EndpointHealth
from tests.integrations.dashboard_world import dashboard_world_build
from tests.integrations.test_views_browser import PASSWORD, admin_login, page  # noqa: F401
from tests.integrations.test_views_browser import pytestmark as browser_marks

pytestmark = browser_marks

HEAD_BADGE = "#environment-badge"
ROW_BADGE = "#endpoint-orders img.badge"


def shown_width(browser: Any, selector: str) -> int:
    """The width of the SVG the browser drew: each state's badge has its own."""
    return int(browser.eval_on_selector(selector, "img => img.complete ? img.naturalWidth : 0"))


def test_badges_turn_with_the_live_refresh_without_a_reload(
    live_server: Any,
    page: Any,  # noqa: F811
    settings: Any,
    django_user_model: Any,
) -> None:
    settings.PORTAL_DASHBOARD_REFRESH_S = 1
    django_user_model.objects.create_superuser("browser-admin", "", PASSWORD)
    world = dashboard_world_build()
    admin_login(page, live_server.url)
    page.goto(f"{live_server.url}/customers/acme/uat/")
    down, healthy = badge_for(HealthState.DOWN).width, badge_for(HealthState.HEALTHY).width
    page.wait_for_function(f"document.querySelector('{HEAD_BADGE}').naturalWidth === {down}")
    assert shown_width(page, ROW_BADGE) == down
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    EndpointHealth.objects.filter(pk=world.down.pk).update(
        state=HealthState.HEALTHY, state_since=clock.now()
    )
    for selector in (HEAD_BADGE, ROW_BADGE):
        page.wait_for_function(
            f"document.querySelector('{selector}').naturalWidth === {healthy}", timeout=10_000
        )
    assert navigations == []  # the live refresh did it, not a reload
