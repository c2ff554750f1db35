"""A person in headless Chromium runs a test call whose customer login fails, and reads
the trace: the good token fetch, the refused login with the customer's answer, and a
business call that says it was not sent because of step 2. No secret on the page.

Debian's /usr/bin/chromium through Playwright (never `playwright install`), as
tests/integrations/test_views_browser.py does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from integrations.models import AccessToken, Endpoint
from integrations.services.demo import demo_customer_ensure
from tests.helpers import find_leaks
from tests.integrations import test_views_browser as browser
from tests.integrations.test_views_browser import CHROMIUM, PASSWORD, admin_login, shot

page = browser.page  # the same Chromium fixture
WRONG_PASSWORD = "wrong-password-in-the-browser"
SECRETS = ["demo-client-secret", "demo-api-key", "alice-password", WRONG_PASSWORD]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


def test_the_trace_shows_the_refused_login_and_why_the_call_was_not_sent(
    live_server: Any,
    sandbox: Any,
    page: Any,
    django_user_model: Any,
) -> None:
    django_user_model.objects.create_superuser("browser-admin", "", PASSWORD)
    customer = demo_customer_ensure(sandbox_url=sandbox.url)
    endpoint = Endpoint.objects.get(environment__customer=customer, slug="getprofile")
    user = endpoint.default_test_user
    assert user is not None
    user.password = WRONG_PASSWORD
    user.save()
    base = live_server.url

    admin_login(page, base)
    page.goto(f"{base}/admin/integrations/endpoint/{endpoint.pk}/test-call/")
    page.click("#test-call-form input[type=submit]")
    page.wait_for_selector("#test-call-result")

    assert page.inner_text("#call-status") == "not sent"
    assert page.get_attribute("#step-1", "data-outcome") == "fetched"
    assert "HTTP 200" in page.inner_text("#step-1-response")
    assert page.get_attribute("#step-2", "class") == "trace-step failed"
    assert "password=[REDACTED]" in page.inner_text("#step-2-request")
    refused = page.inner_text("#step-2-response")
    assert "HTTP 401" in refused and "invalid_credentials" in refused
    assert page.inner_text("#not-sent") == "Not sent: step 2 (Customer login) failed."
    assert page.is_visible("#step-2-response")
    token = AccessToken.objects.get(oauth_client=endpoint.oauth_client).token
    assert token is not None  # fetched in step 1: its value must not be on the page either
    assert find_leaks([page.content()], [*SECRETS, token.reveal()]) == []
    shot(page, "test-call-failing-login")
