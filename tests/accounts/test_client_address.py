"""The client address: X-Forwarded-For is believed only from PORTAL_TRUSTED_PROXIES."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from accounts.throttle import client_ip
from integrations.models import AuditEvent
from tests.factories import make_user
from tests.portal.test_settings import TEST_FERNET_KEY, import_settings


def address_of(remote: str, forwarded: str | None = None) -> str:
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(request)


@pytest.fixture
def proxies(settings: Any) -> None:
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8::/32"]


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(settings: Any) -> None:
    settings.PORTAL_TRUSTED_PROXIES = []
    assert address_of("10.0.0.1", "203.0.113.5") == "10.0.0.1"
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert address_of("198.51.100.9", "203.0.113.5") == "198.51.100.9"
    assert address_of("10.0.0.1", "203.0.113.5") == "203.0.113.5"


def test_the_client_is_the_right_most_address_that_is_not_a_trusted_proxy(proxies: None) -> None:
    # The left-most entries are whatever the client sent; our proxies appended the rest.
    assert address_of("10.0.0.1", "198.51.100.1, 203.0.113.5, 10.0.0.7") == "203.0.113.5"
    assert address_of("2001:db8::1", "2001:0db9:0:0::9, 2001:db8::2") == "2001:db9::9"
    assert address_of("10.0.0.1", "10.0.0.5") == "10.0.0.5"  # only proxies: the furthest


def test_an_unreadable_forwarded_entry_falls_back_to_the_nearest_trusted_proxy(
    proxies: None,
) -> None:
    assert address_of("10.0.0.1") == "10.0.0.1"
    assert address_of("10.0.0.1", "") == "10.0.0.1"
    assert address_of("10.0.0.1", "garbage") == "10.0.0.1"
    assert address_of("10.0.0.1", "203.0.113.5, not-an-address") == "10.0.0.1"
    assert address_of("10.0.0.1", "203.0.113.5, nonsense, 10.0.0.7") == "10.0.0.7"
    assert address_of("10.0.0.1", "nonsense, 203.0.113.5") == "203.0.113.5"


def test_a_proxy_seen_as_an_ipv4_mapped_address_is_trusted(proxies: None) -> None:
    assert address_of("::ffff:10.0.0.1", "203.0.113.5") == "203.0.113.5"


def test_a_malformed_trusted_proxies_setting_stops_the_portal_at_start(tmp_path: Path) -> None:
    production = {
        "DEBUG": "false",
        "SECRET_KEY": "s" * 50,
        "PORTAL_ENCRYPTION_KEYS": TEST_FERNET_KEY,
        "PORTAL_VAR_DIR": str(tmp_path),
    }
    result = import_settings(**production, PORTAL_TRUSTED_PROXIES="10.0.0.1, not-a-network")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PORTAL_TRUSTED_PROXIES: 'not-a-network'" in result.stderr
    fine = import_settings(**production, PORTAL_TRUSTED_PROXIES="10.0.0.1, 172.16.0.0/12")
    assert fine.returncode == 0, fine.stderr


@pytest.mark.django_db
def test_audit_events_behind_a_trusted_proxy_record_the_forwarded_client(settings: Any) -> None:
    settings.PORTAL_TRUSTED_PROXIES = ["10.0.0.1"]
    api = APIClient(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    api.force_authenticate(make_user("admin"))
    created = api.post("/api/v1/customers/", {"name": "Proxied", "slug": "proxied"}, format="json")
    assert created.status_code == 201, created.content
    event = AuditEvent.objects.get(object_type="integrations.customer")
    assert event.ip_address == "198.51.100.7"
