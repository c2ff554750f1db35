"""Failed API tokens are counted per presented prefix and client address, never refusing a
valid token because of another token's failures; behind a trusted proxy, per forwarded client."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiToken, TokenScope
from accounts.tokens import api_token_create, api_token_revoke
from tests.factories import make_user
from tests.integrations.dashboard_world import dashboard_world_build

pytestmark = pytest.mark.django_db

CUSTOMERS = "/api/v1/customers/"
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REDIS_KEY_PREFIX = "test-token-throttle"
PROXY = "10.0.0.1"


@pytest.fixture(autouse=True)
def _five_failures(settings: Any) -> None:
    settings.LOGIN_MAX_FAILURES = 5
    settings.LOGIN_FAILURE_WINDOW_S = 900
    settings.LOGIN_ADDRESS_MAX_FAILURES = 100
    settings.PORTAL_TRUSTED_PROXIES = [PROXY]
    settings.PORTAL_METRICS_TOKEN = ""
    settings.PORTAL_METRICS_ALLOW_IPS = []
    settings.PORTAL_PUBLIC_BADGES = False


@pytest.fixture
def redis_cache(settings: Any) -> Iterator[redis.Redis]:
    """The default cache on the test Redis, as production runs with CACHE_URL set."""
    client = redis.Redis.from_url(REDIS_URL)
    _redis_keys_delete(client)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,  # only this test's keys: the db is shared
        }
    }
    yield client
    _redis_keys_delete(client)
    client.close()


def _redis_keys_delete(client: redis.Redis) -> None:
    for key in client.scan_iter(f"{REDIS_KEY_PREFIX}:*"):
        client.delete(key)


def token_of(role: str, scope: str = TokenScope.READ) -> tuple[ApiToken, str]:
    return api_token_create(user=make_user(role), name=f"{role} token", scope=scope)


def wrong_secret_of(token: ApiToken) -> str:
    return f"pt_{token.prefix}_{secrets.token_urlsafe(32)}"


def some_unknown_token() -> str:
    return f"pt_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def api_get(raw: str, ip: str = "198.51.100.7", forwarded: str | None = None) -> Any:
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    client = APIClient(REMOTE_ADDR=ip, **headers)
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client.get(CUSTOMERS)


def assert_throttled(response: Any, says: str) -> None:
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert error["code"] == "throttled" and says in error["message"]
    assert error["details"]["retry_after_s"] == 900 and response["Retry-After"] == "900"


def five_bad_tokens_then_a_valid_admin_token_works() -> None:
    _, admin_raw = token_of("admin", TokenScope.WRITE)
    for _ in range(5):
        assert api_get(some_unknown_token()).status_code == 401
    assert api_get(some_unknown_token()).status_code == 401  # no address-wide lockout
    assert api_get(admin_raw).status_code == 200


def the_same_prefix_is_refused_after_the_limit_even_with_its_secret() -> None:
    token, raw = token_of("viewer")
    for _ in range(5):
        assert api_get(wrong_secret_of(token)).status_code == 401
    assert_throttled(api_get(wrong_secret_of(token)), "with this API token")
    # Guessing the secret half of a known prefix must not pay off: the right one waits too.
    assert_throttled(api_get(raw), "other tokens still work")
    assert api_get(raw, ip="198.51.100.8").status_code == 200
    _, other_raw = token_of("engineer")
    assert api_get(other_raw).status_code == 200


def test_five_bad_tokens_from_an_address_leave_a_valid_admin_token_working() -> None:
    five_bad_tokens_then_a_valid_admin_token_works()


def test_the_same_bad_prefix_is_refused_after_the_limit_and_only_that_prefix() -> None:
    the_same_prefix_is_refused_after_the_limit_even_with_its_secret()


def test_through_a_redis_cache_the_counters_behave_the_same(redis_cache: redis.Redis) -> None:
    five_bad_tokens_then_a_valid_admin_token_works()
    the_same_prefix_is_refused_after_the_limit_even_with_its_secret()
    assert list(redis_cache.scan_iter(f"{REDIS_KEY_PREFIX}:*:accounts:token-failures:*"))
    assert cache.get("missing") is None  # the proxy now points at Redis, and answers


def test_metrics_and_badges_answer_a_valid_token_after_bad_ones(client: Client) -> None:
    dashboard_world_build()
    _, raw = token_of("viewer")
    for _ in range(5):
        bad = f"Bearer {some_unknown_token()}"
        assert client.get("/metrics", HTTP_AUTHORIZATION=bad).status_code == 401
        assert client.get("/badges/acme/uat.svg", HTTP_AUTHORIZATION=bad).status_code == 401
    metrics = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert metrics.status_code == 200 and b"portal_endpoint_up" in metrics.content
    badge = client.get("/badges/acme/uat/getprofile.svg", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert badge.status_code == 200 and badge["Content-Type"].startswith("image/svg+xml")


def test_an_address_spraying_prefixes_gets_429_while_a_valid_token_still_works(
    settings: Any,
) -> None:
    settings.LOGIN_ADDRESS_MAX_FAILURES = 3
    _, raw = token_of("admin")
    for _ in range(3):
        assert api_get(some_unknown_token()).status_code == 401
    assert_throttled(api_get(some_unknown_token()), "Send a valid token")
    assert api_get(raw).status_code == 200
    assert api_get(some_unknown_token(), ip="198.51.100.8").status_code == 401


def test_a_malformed_token_is_counted_by_its_value() -> None:
    for _ in range(5):
        assert api_get("not-a-token").status_code == 401
    assert_throttled(api_get("not-a-token"), "with this API token")
    assert api_get("also-not-a-token").status_code == 401


def test_a_revoked_token_keeps_saying_it_was_revoked_however_often_it_is_sent() -> None:
    token, raw = token_of("viewer")
    api_token_revoke(token=token)
    for _ in range(7):
        response = api_get(raw)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "token_revoked"


def test_two_clients_behind_a_trusted_proxy_have_separate_counters() -> None:
    token, raw = token_of("viewer")
    for _ in range(5):
        assert api_get(wrong_secret_of(token), ip=PROXY, forwarded="203.0.113.1").status_code == 401
    refused = api_get(wrong_secret_of(token), ip=PROXY, forwarded="203.0.113.1")
    assert_throttled(refused, "with this API token")
    neighbour = api_get(wrong_secret_of(token), ip=PROXY, forwarded="203.0.113.2")
    assert neighbour.status_code == 401
    assert api_get(raw, ip=PROXY, forwarded="203.0.113.2").status_code == 200


def test_forwarded_for_from_an_untrusted_address_cannot_dodge_the_counter() -> None:
    token, _ = token_of("viewer")
    spoofer = "198.51.100.9"
    for i in range(5):
        response = api_get(wrong_secret_of(token), ip=spoofer, forwarded=f"203.0.113.{i}")
        assert response.status_code == 401
    assert_throttled(
        api_get(wrong_secret_of(token), ip=spoofer, forwarded="203.0.113.99"),
        "with this API token",
    )
    # Counted against the spoofer's real address: the proxy naming it finds it locked...
    assert_throttled(
        api_get(wrong_secret_of(token), ip=PROXY, forwarded=spoofer), "with this API token"
    )
    # ...and the addresses it claimed carry none of its failures.
    assert api_get(wrong_secret_of(token), ip=PROXY, forwarded="203.0.113.1").status_code == 401
