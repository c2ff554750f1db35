"""A real sandbox on a free port per test module, reset before every test."""

from collections.abc import Iterator

import pytest

from sandbox import RunningSandbox, start_sandbox
from tests.sandbox.helpers import fetch_access_token, log_in, profile_headers


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_sandbox()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh_sandbox(sandbox: RunningSandbox) -> None:
    sandbox.reset()


@pytest.fixture
def alice_headers(sandbox: RunningSandbox) -> dict[str, str]:
    """Every header a correct getprofile call for alice needs."""
    jwt = log_in(sandbox.url, "alice", "alice-password").json()["JWT"]
    return profile_headers(access_token=fetch_access_token(sandbox.url), jwt=jwt)
