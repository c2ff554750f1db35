"""A person in a real headless Chromium: configure a customer in the admin, run a test
call, and watch the overview turn healthy after a probe without reloading the page.

Uses Debian's /usr/bin/chromium through Playwright's own driver (never `playwright
install`). Screenshots go to test-artifacts/screenshots/, or to PORTAL_SCREENSHOT_DIR
(`PORTAL_SCREENSHOT_DIR=docs/screenshots` refreshes the README's pictures).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from integrations.models import CustomerAuth, Endpoint, Environment
from integrations.services.probe_runs import endpoint_probe_now
from tests.integrations.dashboard_world import dashboard_world_build

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser-admin-password"
SCREENSHOTS = Path(os.environ.get("PORTAL_SCREENSHOT_DIR", "test-artifacts/screenshots"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between browser steps are still plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(20_000)
        yield context.new_page()
        browser.close()
        # Close what the test's ORM calls opened while Playwright ran: pytest-django's own
        # teardown does not reach it, and left open it keeps the test database from being
        # dropped at the end of the run.
        connections.close_all()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def saved(page: Any) -> None:
    """Wait for the admin's answer to a save; fail with its error messages if it refused."""
    page.wait_for_selector(".messagelist .success, .errornote")
    if page.query_selector(".errornote"):
        errors = [e.inner_text() for e in page.query_selector_all(".errornote, .errorlist")]
        pytest.fail(f"the admin refused the form at {page.url}: {errors}")


def admin_login(page: Any, base: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "browser-admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def add_customer_with_environment(page: Any, base: str, sandbox_url: str) -> Environment:
    page.goto(f"{base}/admin/integrations/customer/add/")
    page.fill("#id_name", "Browser Bank")  # the admin's script fills in the slugs
    page.click("text=Add another Environment")
    page.fill("#id_environments-0-name", "UAT")
    page.fill("#id_environments-0-base_url", sandbox_url)
    page.click("input[name=_save]")
    saved(page)
    return Environment.objects.get(customer__slug="browser-bank", slug="uat")


def add_credentials(page: Any, base: str, env: Environment) -> None:
    page.goto(f"{base}/admin/integrations/environment/{env.pk}/change/")
    page.click("text=Add another OAuth client")
    page.fill("#id_oauth_clients-0-client_id", "demo-client")
    page.fill("#id_oauth_clients-0-client_secret", "demo-client-secret")
    page.click("text=Add another customer authentication")
    page.fill("#id_customer_auths-0-name", "login")  # an untouched inline row is not saved
    page.click("text=Add another API key")
    page.fill("#id_api_keys-0-value", "demo-api-key")
    page.click("input[name=_continue]")
    saved(page)


def add_endpoint(page: Any, base: str, env: Environment) -> Endpoint:
    page.goto(f"{base}/admin/integrations/environment/{env.pk}/change/")
    page.click("text=Add another Endpoint")
    page.fill("#id_endpoints-0-name", "Get profile")
    credentials = {
        "oauth_client": env.oauth_clients.get(),
        "customer_auth": env.customer_auths.get(),
        "api_key": env.api_keys.get(),
    }
    for field, credential in credentials.items():
        page.select_option(f"#id_endpoints-0-{field}", label=str(credential))
    page.click("input[name=_continue]")
    saved(page)
    shot(page, "admin-environment")
    return Endpoint.objects.get(environment=env, slug="get-profile")


def add_test_user(page: Any, base: str, env: Environment) -> None:
    auth = CustomerAuth.objects.get(environment=env)
    page.goto(f"{base}/admin/integrations/customerauth/{auth.pk}/change/")
    page.click("text=Add another test user")
    page.fill("#id_test_users-0-label", "alice")
    page.fill("#id_test_users-0-username", "alice")
    page.fill("#id_test_users-0-password", "alice-password")
    page.click("input[name=_save]")
    saved(page)


def finish_endpoint(page: Any, base: str, endpoint: Endpoint) -> None:
    """The request details the inline does not show: JSON body, header and test user."""
    page.goto(f"{base}/admin/integrations/endpoint/{endpoint.pk}/change/")
    page.fill("#id_headers_template", '{"content-type": "application/json"}')
    page.fill("#id_body_template", "{}")
    page.select_option("#id_default_test_user", label="alice @ Browser Bank / UAT")
    page.click("input[name=_continue]")
    saved(page)


def run_test_call(page: Any) -> None:
    page.click("text=Run test call")
    page.click("#test-call-form input[type=submit]")
    page.wait_for_selector("#test-call-result")
    assert page.inner_text("#call-status") == "HTTP 200"
    response = page.inner_text("#response-json")
    assert "Alice" in response and "Anderson" in response and "unlimited-plus" in response
    shot(page, "test-call")


def test_an_engineer_configures_a_customer_and_watches_it_turn_healthy(
    live_server: Any, sandbox: Any, page: Any, settings: Any, django_user_model: Any
) -> None:
    settings.PORTAL_DASHBOARD_REFRESH_S = 1
    django_user_model.objects.create_superuser("browser-admin", "", PASSWORD)
    dashboard_world_build()  # two more customers, so the overview has neighbours
    base = live_server.url

    admin_login(page, base)
    env = add_customer_with_environment(page, base, sandbox.url)
    add_credentials(page, base, env)
    endpoint = add_endpoint(page, base, env)
    add_test_user(page, base, env)
    finish_endpoint(page, base, endpoint)
    run_test_call(page)

    page.goto(f"{base}/")
    state_cell = f"#env-{env.pk} td.health"
    assert page.get_attribute(state_cell, "data-state") == "unknown"
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.evaluate("window.__notReloaded = true")

    endpoint_probe_now(endpoint=endpoint)  # what a worker's scheduled probe does
    page.wait_for_function(
        "s => document.querySelector(s)?.dataset.state === 'healthy'", arg=state_cell
    )
    assert page.evaluate("window.__notReloaded") is True and navigations == []
    assert "Healthy" in page.inner_text(state_cell)
    shot(page, "overview")

    page.click(f"#env-{env.pk} a")
    page.wait_for_selector("#endpoints-table")
    assert page.get_attribute("#endpoint-get-profile td.health", "data-state") == "healthy"
    assert "demo-client" in page.inner_text("#credentials-table")
    shot(page, "environment")
