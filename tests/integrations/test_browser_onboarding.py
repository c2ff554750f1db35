"""An engineer in a real headless Chromium onboards a customer with the guided flow, from
an empty database to a healthy endpoint on the environment's page.

Uses Debian's /usr/bin/chromium through Playwright's own driver (never `playwright
install`). Screenshots (onboarding-*.png) go to test-artifacts/screenshots/, or to
PORTAL_SCREENSHOT_DIR.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from integrations.models import Customer, Endpoint
from tests.factories import make_user
from tests.integrations.test_views_browser import CHROMIUM, CHROMIUM_ARGS, shot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]

PASSWORD = "browser-engineer-password"
SECRETS = ("demo-client-secret", "alice-password", "demo-api-key")


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
        connections.close_all()  # what the test's ORM calls opened while Playwright ran


class Pages:
    """Every page the browser was shown, to check that none carries a secret."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.seen: list[str] = []

    def keep(self) -> str:
        html = str(self.page.content())
        self.seen.append(html)
        return html

    def submit(self, button: str = "#step-form button.primary") -> str:
        self.page.click(button)
        self.page.wait_for_load_state()
        return self.keep()

    def message(self) -> str:
        return str(self.page.inner_text("ul.messages"))


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/accounts/login/?next=/")
    page.fill("#id_username", "engineer")
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{base}/")


def test_an_engineer_onboards_a_customer_in_the_browser_to_a_healthy_endpoint(
    live_server: Any, sandbox: Any, page: Any
) -> None:
    engineer = make_user("engineer", username="engineer")
    engineer.set_password(PASSWORD)
    engineer.save()
    assert not Customer.objects.exists()  # from an empty database
    base = live_server.url
    pages = Pages(page)

    sign_in(page, base)
    page.click("#new-integration")
    page.fill("#id_name", "Browser Bank")
    pages.submit()
    assert page.url.endswith("/onboarding/browser-bank/environment/")

    page.fill("#id_name", "UAT")
    page.fill("#id_base_url", "http://10.1.2.3")
    pages.submit()
    assert "refused (private (RFC 1918) address)" in page.inner_text("#field-base_url")
    page.fill("#id_base_url", sandbox.url)
    pages.submit()

    assert page.input_value("#id_token_url") == "/oauth/access_token"
    page.fill("#id_client_id", "demo-client")
    page.fill("#id_client_secret", "not-the-client-secret")
    pages.submit()
    assert "invalid_client" in page.inner_text("#form-errors")
    assert page.input_value("#id_client_id") == "demo-client"
    shot(page, "onboarding-oauth-client")
    page.fill("#id_client_secret", "demo-client-secret")
    pages.submit()
    assert "token fetched, expires in 8 h" in pages.message()

    assert page.input_value("#id_authenticate_url") == "/auth/customer_authenticate"
    pages.submit()
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-password")
    pages.submit()
    assert "logged in, JWT expires in 8 h" in pages.message()

    assert page.input_value("#id_header_name") == "api-key"
    page.fill("#id_value", "demo-api-key")
    pages.submit()

    assert page.input_value("#id_path") == "/account/getprofile"
    assert '"content-type": "application/json"' in page.input_value("#id_headers_template")
    assert page.input_value("#id_identifier_format") == "JWT {token}"
    assert "default test user alice" in page.inner_text("#endpoint-credentials")
    shot(page, "onboarding-endpoint")
    pages.submit()

    pages.submit()  # the first test call and the readiness report
    assert page.inner_text("#first-call-status").startswith("PASS · HTTP 200")
    assert "Ready" in page.inner_text("#readiness-summary")
    shot(page, "onboarding-first-call")
    page.click("#finish")
    pages.keep()
    page.click("#environment-link")
    page.wait_for_selector("#endpoints-table")
    pages.keep()
    row = "#endpoint-get-profile td.health"
    assert page.get_attribute(row, "data-state") == "unknown"

    page.click("#endpoint-get-profile button[name=probe]")
    page.wait_for_selector("#endpoints-table")
    assert page.get_attribute(row, "data-state") == "healthy"
    assert "Probed Get profile: OK" in pages.message()
    pages.keep()
    assert Endpoint.objects.get().health.state == "healthy"
    for html in pages.seen:
        assert not any(secret in html for secret in SECRETS)
