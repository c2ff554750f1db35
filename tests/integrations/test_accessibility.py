"""Every page a person uses, checked by axe-core in Debian's Chromium: no serious or
critical violation, in light and dark colour schemes, at 1,400 px and at 390 px, and no page
wider than a 390 px phone screen.

The same walk saves the README's screenshots (PORTAL_SCREENSHOT_DIR=docs/screenshots).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from integrations.models import Endpoint, ReadinessReport, TestCall
from integrations.services.probe_runs import endpoint_probe_now
from integrations.services.readiness import readiness_run
from integrations.services.test_calls import test_call_run
from tests.integrations.dashboard_world import dashboard_world_build
from tests.integrations.test_views_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, shot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not __import__("pathlib").Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium"
    ),
]

WIDE, PHONE = 1400, 390
BLOCKING = {"serious", "critical"}


class World:
    """What the pages show: dashboard neighbours, the demo customer, a call and a report."""

    def __init__(self, endpoint: Endpoint, call: TestCall, report: ReadinessReport) -> None:
        self.endpoint = endpoint
        self.call = call
        self.report = report


# (name, path builder, anonymous?, screenshot?) — a page added to the portal joins this list.
PAGES: list[tuple[str, Callable[[World], str], bool, bool]] = [
    ("login", lambda w: "/accounts/login/", True, False),
    ("admin-login", lambda w: "/admin/login/", True, False),
    ("overview", lambda w: "/", False, True),
    ("environment", lambda w: "/customers/demo-bank/uat/", False, True),
    ("environment-with-failures", lambda w: "/customers/acme/uat/", False, False),
    ("endpoint", lambda w: "/customers/demo-bank/uat/endpoints/getprofile/", False, True),
    ("onboarding", lambda w: reverse("integrations:onboarding-start"), False, True),
    (
        "onboarding-endpoint-step",
        lambda w: reverse("integrations:onboarding-endpoint", args=["demo-bank", "uat"]),
        False,
        False,
    ),
    (
        "admin-environment",
        lambda w: reverse(
            "admin:integrations_environment_change", args=[w.endpoint.environment_id]
        ),
        False,
        True,
    ),
    (
        "test-call-form",
        lambda w: reverse("admin:integrations_endpoint_test_call", args=[w.endpoint.pk]),
        False,
        False,
    ),
    (
        "test-call",
        lambda w: reverse("admin:integrations_testcall_change", args=[w.call.pk]),
        False,
        True,
    ),
    (
        "readiness-report",
        lambda w: reverse("admin:integrations_readinessreport_change", args=[w.report.pk]),
        False,
        True,
    ),
]
# Not checked: /api/docs/ is Swagger UI's own page (third-party markup, vendored as is).


@pytest.fixture
def world(demo_endpoint: Endpoint, django_user_model: Any) -> World:
    admin: User = django_user_model.objects.create_superuser("a11y-admin", "", PASSWORD)
    dashboard_world_build()
    endpoint_probe_now(endpoint=demo_endpoint)
    call = test_call_run(endpoint=demo_endpoint, test_user=None, actor=admin)
    report = readiness_run(environment=demo_endpoint.environment, actor=admin)
    return World(demo_endpoint, call, report)


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
        connections.close_all()


def logged_in_context(browser: Any, base: str, *, width: int, scheme: str) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "a11y-admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    return context


def serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + json.dumps([node["target"] for node in v["nodes"]][:5])
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [WIDE, PHONE])
def test_every_page_has_no_serious_accessibility_violation_and_fits_the_screen(
    live_server: Any, world: World, browser: Any, width: int, scheme: str
) -> None:
    base = live_server.url
    anonymous = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    signed_in = logged_in_context(browser, base, width=width, scheme=scheme)
    problems: dict[str, list[str]] = {}
    for name, path_of, is_anonymous, screenshot in PAGES:
        page = (anonymous if is_anonymous else signed_in).new_page()
        response = page.goto(f"{base}{path_of(world)}")
        assert response is not None and response.status == 200, (name, response and response.status)
        page.wait_for_load_state("networkidle")
        if found := serious_violations(page):
            problems[name] = found
        if width == PHONE and not name.startswith(("admin", "test-call", "readiness")):
            # Our own pages fit a phone; the admin's own layout is Django's.
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > PHONE + 1:
                problems.setdefault(name, []).append(f"laid out {scroll} px wide at {PHONE} px")
        if screenshot and scheme == "light":
            shot(page, f"{name}-{width}")
        page.close()
    assert problems == {}, json.dumps(problems, indent=1)


def test_log_out_stays_on_a_phone_screen_and_the_login_page_is_the_portals(
    live_server: Any, world: World, browser: Any
) -> None:
    context = logged_in_context(browser, live_server.url, width=PHONE, scheme="light")
    page = context.new_page()
    page.goto(f"{live_server.url}/customers/demo-bank/uat/")
    box = page.locator(".topbar button.link").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE
    login = browser.new_context().new_page()
    login.goto(f"{live_server.url}/accounts/login/")
    assert login.title() == "Log in · Integration portal"
    assert "Django REST framework" not in login.content()
