"""Shared fixtures: the bundled sandbox customer API on a real socket, and demo config."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from integrations.models import Endpoint


@pytest.fixture(autouse=True)
def _fresh_token_memo() -> Iterator[None]:
    """Each test starts with no token held in process memory (rows roll back between tests)."""
    from integrations.services.tokens import memo_clear

    memo_clear()
    yield
    memo_clear()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test starts with an empty cache (login throttle counters live there)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Any]:
    """One sandbox server for the whole run, on a free port."""
    from sandbox.server import start_sandbox

    running = start_sandbox(host="127.0.0.1", port=0)
    yield running
    running.stop()


@pytest.fixture
def sandbox(sandbox_server: Any, settings: Any) -> Iterator[Any]:
    """The sandbox, reset, and allow-listed for the outbound edge for this test."""
    sandbox_server.reset()
    settings.OUTBOUND_ALLOWLIST = [f"127.0.0.1:{sandbox_server.port}"]
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def demo_endpoint(sandbox: Any, db: None) -> Endpoint:
    """The guide's getprofile endpoint of a customer whose UAT environment is the sandbox."""
    from integrations.services.demo import demo_customer_ensure

    customer = demo_customer_ensure(sandbox_url=sandbox.url)
    return Endpoint.objects.select_related(
        "environment", "oauth_client", "customer_auth", "api_key", "default_test_user"
    ).get(environment__customer=customer, slug="getprofile")
