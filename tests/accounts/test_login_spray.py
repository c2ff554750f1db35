"""Login sprays are refused: per address whatever the names, per name whatever the
addresses, and past a global ceiling; admin, /accounts/login/ and API token failures count
together, in a cache other processes share, and a refusal never tells which names exist."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import Client
from rest_framework.test import APIClient

from accounts import throttle
from accounts.tokens import api_token_create
from integrations.models import AuditEvent
from tests.accounts.login_peer import outcome_of
from tests.factories import make_user
from tests.integrations.celery_processes import database_url
from tests.portal.test_settings import TEST_FERNET_KEY

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"  # tests.factories.make_user's
WRONG = ["123456", "password", "Winter2024!", "letmein"]  # the tester's four
PROXY = "10.0.0.1"
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REDIS_KEY_PREFIX = "test-login-spray"
CUSTOMERS = "/api/v1/customers/"


@pytest.fixture(autouse=True)
def _defaults(settings: Any) -> None:
    """The documented defaults, whatever the environment says."""
    settings.LOGIN_MAX_FAILURES = 5
    settings.LOGIN_ADDRESS_MAX_FAILURES = 20
    settings.LOGIN_USERNAME_MAX_FAILURES = 10
    settings.LOGIN_GLOBAL_MAX_FAILURES = 500
    settings.LOGIN_FAILURE_WINDOW_S = 900
    settings.PORTAL_TRUSTED_PROXIES = [PROXY]


def admin_login(username: str, password: str, ip: str) -> str:
    """Through our proxy, as the tester's clients came: the client is X-Forwarded-For."""
    response = Client().post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=ip,
    )
    return outcome_of(response)


def plain_login(username: str, password: str, ip: str) -> str:
    response = Client().post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )
    return outcome_of(response)


def api_get(raw: str, ip: str) -> Any:
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client.get(CUSTOMERS)


def unknown_token() -> str:
    return f"pt_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def first_refusal(outcomes: list[str]) -> int:
    """The 1-based attempt that was refused first; every later one must be refused too."""
    first = outcomes.index("refused")
    assert set(outcomes[first:]) == {"refused"}, outcomes
    return first + 1


def lockouts() -> list[tuple[str, str]]:
    events = AuditEvent.objects.filter(action="login_failed", detail__reason="locked_out")
    return [(e.detail["scope"], e.detail["address"]) for e in events.order_by("pk")]


def test_forty_names_times_four_passwords_from_one_address_are_refused_after_twenty() -> None:
    # Half of the names exist: the count, and the refusal, do not care.
    names = [make_user("viewer").username for _ in range(20)] + [f"ghost{i}" for i in range(20)]
    outcomes = [admin_login(name, password, "203.0.113.7") for password in WRONG for name in names]

    assert first_refusal(outcomes) == 21
    assert outcomes.count("failed") == 20 and outcomes.count("refused") == 140
    assert admin_login(names[0], PASSWORD, "203.0.113.7") == "refused"  # no bypass
    assert admin_login(names[0], PASSWORD, "203.0.113.8") == "logged_in"  # per address
    assert lockouts() == [("address", "203.0.113.7")]


def test_one_user_from_ten_addresses_times_four_passwords_is_refused_after_ten() -> None:
    alice = make_user("viewer", username="alice")
    bob = make_user("viewer", username="bob")
    addresses = [f"198.51.100.{i}" for i in range(1, 11)]
    outcomes = [admin_login("alice", password, ip) for ip in addresses for password in WRONG]

    assert first_refusal(outcomes) == 11
    assert admin_login(alice.username, PASSWORD, "192.0.2.99") == "refused"  # any address
    assert admin_login(bob.username, PASSWORD, addresses[0]) == "logged_in"  # per name
    assert lockouts() == [("username", "198.51.100.3")]


@pytest.mark.slow  # 520 logins, a few seconds
def test_past_the_global_ceiling_every_login_is_refused_but_valid_tokens_work() -> None:
    # 27 addresses x 19 new names: no address or name reaches its own limit.
    attempts = [(f"spray-{a}-{n}", f"192.0.2.{a}") for a in range(1, 28) for n in range(19)]
    outcomes = [admin_login(name, "123456", ip) for name, ip in attempts]

    assert first_refusal(outcomes) == 501
    carol = make_user("viewer", username="carol", staff=False)
    assert plain_login(carol.username, PASSWORD, "198.51.100.200") == "refused"
    _, raw = api_token_create(user=make_user("viewer"), name="tool", scope="read")
    assert api_get(raw, "198.51.100.200").status_code == 200
    refused = api_get(unknown_token(), "198.51.100.200")
    assert refused.status_code == 429 and "or from everyone" in refused.json()["error"]["message"]
    assert lockouts() == [("global", "192.0.2.27")]


def test_admin_plain_login_and_api_token_failures_add_up_per_address() -> None:
    user = make_user("viewer", username="dave")
    _, raw = api_token_create(user=user, name="tool", scope="read")
    ip = "203.0.113.50"
    for i in range(8):
        assert admin_login(f"admin-guess-{i}", "123456", ip) == "failed"
    for i in range(6):
        assert plain_login(f"plain-guess-{i}", "123456", ip) == "failed"
    for _ in range(6):
        assert api_get(unknown_token(), ip).status_code == 401

    assert admin_login("dave", PASSWORD, ip) == "refused"
    assert plain_login("dave", PASSWORD, ip) == "refused"
    refused = api_get(unknown_token(), ip)
    assert refused.status_code == 429 and refused["Retry-After"] == "900"
    assert api_get(raw, ip).status_code == 200  # a valid token is no guess
    # The twentieth failure, an API token's, locked the address for the login pages too;
    # the audit names that token by its public prefix only.
    assert lockouts() == [("address", ip)]
    label = AuditEvent.objects.get(detail__reason="locked_out").actor_label
    assert re.fullmatch(r"API token pt_[0-9a-f]{8}", label)


def normalised(page: str, username: str) -> str:
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", page)
    return page.replace(username, "NAME")


@pytest.mark.parametrize("path", ["/admin/login/?next=/admin/", "/accounts/login/"])
def test_a_locked_out_name_reads_the_same_whether_or_not_it_exists(path: str) -> None:
    make_user("viewer", username="real-user")
    pages = {}
    for name, password in [("real-user", PASSWORD), ("fake-user", "anything")]:
        outcomes = []
        for i in range(11):  # ten failures from ten addresses, then the eleventh attempt
            ip = f"198.51.100.{i}"
            attempt = password if i == 10 else "123456"
            data = {"username": name, "password": attempt}
            response = Client().post(path, data, REMOTE_ADDR=ip)
            outcomes.append(outcome_of(response))
        assert outcomes == ["failed"] * 10 + ["refused"]
        pages[name] = (response.status_code, normalised(response.content.decode(), name))

    assert pages["real-user"] == pages["fake-user"]
    assert "Too many failed logins. Try again in 15 minutes." in pages["real-user"][1]


def test_addresses_of_one_ipv6_64_count_as_one_address() -> None:
    for i in range(20):
        assert plain_login(f"v6-{i}", "123456", f"2001:db8:1:2::{i + 1:x}") == "failed"

    assert plain_login("someone", "123456", "2001:db8:1:2:ffff::1") == "refused"
    assert plain_login("someone", "123456", "2001:db8:1:3::1") == "failed"


def test_a_limit_of_zero_turns_only_that_limit_off(settings: Any) -> None:
    settings.LOGIN_ADDRESS_MAX_FAILURES = 0
    settings.LOGIN_GLOBAL_MAX_FAILURES = 25
    outcomes = [plain_login(f"n{i}", "123456", "203.0.113.60") for i in range(30)]

    assert first_refusal(outcomes) == 26  # the global ceiling, not the address's 20


LIMITS = (
    "from portal import settings as s; "
    "print(s.LOGIN_ADDRESS_MAX_FAILURES, s.LOGIN_USERNAME_MAX_FAILURES, "
    "s.LOGIN_GLOBAL_MAX_FAILURES)"
)


def settings_with(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    production = {"DEBUG": "false", "SECRET_KEY": "s" * 50, "PORTAL_VAR_DIR": str(tmp_path)}
    production["PORTAL_ENCRYPTION_KEYS"] = TEST_FERNET_KEY
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **production}
    return subprocess.run(
        [sys.executable, "-c", LIMITS],
        env={**env, **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_limits_come_from_the_environment_and_a_negative_one_stops_the_portal(
    tmp_path: Path,
) -> None:
    assert settings_with(tmp_path).stdout.split() == ["20", "10", "500"]
    chosen = settings_with(
        tmp_path,
        PORTAL_LOGIN_ADDRESS_MAX_FAILURES="7",
        PORTAL_LOGIN_USERNAME_MAX_FAILURES="3",
        PORTAL_LOGIN_GLOBAL_MAX_FAILURES="0",
    )
    assert chosen.stdout.split() == ["7", "3", "0"]
    refused = settings_with(tmp_path, PORTAL_LOGIN_USERNAME_MAX_FAILURES="-1")
    assert refused.returncode != 0
    assert "PORTAL_LOGIN_USERNAME_MAX_FAILURES must be 0 (no limit) or more" in refused.stderr


# --- shared between processes -------------------------------------------------------


@pytest.fixture
def redis_caches(settings: Any) -> Iterator[dict[str, Any]]:
    """The default cache on the test Redis, as production runs with CACHE_URL set."""
    client = redis.Redis.from_url(REDIS_URL)
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,  # only this test's keys: the db is shared
        }
    }
    _redis_keys_delete(client)
    settings.CACHES = caches
    yield caches
    _redis_keys_delete(client)
    client.close()


def _redis_keys_delete(client: redis.Redis) -> None:
    for key in client.scan_iter(f"{REDIS_KEY_PREFIX}:*"):
        client.delete(key)


def in_another_process(caches: dict[str, Any], attempts: list[tuple[str, str, str]]) -> list[str]:
    """Admin logins posted by a second Django process on the same database and cache."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "PYTHONPATH": str(ROOT),
    }
    job = json.dumps({"caches": caches, "attempts": attempts})
    peer = [sys.executable, str(ROOT / "tests" / "accounts" / "login_peer.py"), job]
    result = subprocess.run(peer, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the other process sees committed users only
def test_two_processes_share_the_counts_through_redis(redis_caches: dict[str, Any]) -> None:
    make_user("viewer", username="erin")
    ip = "203.0.113.77"
    here = [admin_login(f"here-{i}", "123456", ip) for i in range(12)]
    there = in_another_process(
        redis_caches,
        [(f"there-{i}", "123456", ip) for i in range(8)] + [("erin", PASSWORD, ip)],
    )

    assert here == ["failed"] * 12
    assert there == ["failed"] * 8 + ["refused"]  # 12 here + 8 there reached 20
    assert throttle.login_refusal(username="anyone", ip=ip) == "address"
    assert admin_login("erin", PASSWORD, ip) == "refused"
    assert lockouts() == [("address", ip)]  # written once, by the other process
