"""Bad input from the network is a 4xx: oversized bodies a 413 before anything reads them
(API and admin, test client and a real socket), an unstorable admin date filter a 400."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client

from accounts.tokens import api_token_create
from integrations.models import AuditEvent, Customer
from tests.factories import make_user
from tests.integrations.api_world import client_as, error_of

pytestmark = pytest.mark.django_db

TWENTY_MB = 20 * 1024 * 1024


def big_json() -> str:
    return json.dumps({"name": "big", "slug": "big", "notes": "x" * TWENTY_MB})


def big_form() -> str:
    return urlencode({"name": "big", "slug": "big", "notes": "x" * TWENTY_MB})


def assert_too_large(response: Any) -> None:
    assert response.status_code == 413, response.content[:300]
    error = error_of(response)
    assert error["code"] == "request_too_large"
    assert error["details"] == {"max_bytes": django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE}


def test_the_request_size_limit_defaults_to_five_mib() -> None:
    assert django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 5 * 1024 * 1024
    assert django_settings.FILE_UPLOAD_MAX_MEMORY_SIZE <= 5 * 1024 * 1024


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(big_json, "application/json"), (big_form, "application/x-www-form-urlencoded")],
    ids=["json", "form"],
)
def test_a_twenty_mb_api_body_is_a_413_and_nothing_is_stored(body: Any, content_type: str) -> None:
    response = client_as("engineer").post("/api/v1/customers/", body(), content_type=content_type)
    assert_too_large(response)
    assert not Customer.objects.exists()


def test_the_limit_follows_the_setting(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    client = client_as("engineer")
    small = {"name": "Small", "slug": "small"}
    assert client.post("/api/v1/customers/", small, format="json").status_code == 201
    response = client.post("/api/v1/customers/", {**small, "notes": "x" * 300}, format="json")
    assert response.status_code == 413
    assert error_of(response)["details"] == {"max_bytes": 200}
    assert list(Customer.objects.values_list("slug", flat=True)) == ["small"]


def test_a_twenty_mb_admin_form_is_a_413_page(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/integrations/customer/add/",
        big_form(),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert b"larger than the portal accepts" in response.content
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    "query",
    ["at__gte=2026-01-01T00:00:00-16:00", "at__lt=2026-01-01T00:00:00%2B16:00"],
)
def test_an_unstorable_date_in_an_admin_changelist_is_a_400_page(
    admin_client: Client, query: str
) -> None:
    AuditEvent.objects.create(actor_label="someone", action="login")
    response = admin_client.get(f"/admin/integrations/auditevent/?{query}")
    assert response.status_code == 400
    assert b"UTC offset between -15:59 and +15:59" in response.content


# --- over a real socket -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_twenty_mb_json_body_over_a_socket_is_a_413(live_server: Any) -> None:
    _, raw = api_token_create(user=make_user("engineer"), name="socket", scope="write")
    response = requests.post(
        f"{live_server.url}/api/v1/customers/",
        data=big_json(),
        headers={"Authorization": f"Token {raw}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert_too_large(response)
    assert not Customer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_twenty_mb_admin_form_over_a_socket_is_a_413_page(live_server: Any) -> None:
    browser = Client()
    browser.force_login(make_user("admin", is_superuser=True))
    response = requests.post(
        f"{live_server.url}/admin/integrations/customer/add/",
        data=big_form(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        cookies={"sessionid": browser.cookies["sessionid"].value},
        timeout=60,
    )
    assert response.status_code == 413
    assert "larger than the portal accepts" in response.text
    assert not Customer.objects.exists()
