"""Schema-driven fuzzing of the whole API, from its own OpenAPI schema, as an admin token.

Bounded and deterministic: a fixed seed, a few examples per operation. Operations that
reach out to customers (test calls, token refreshes, probes, readiness runs) are left
out: generated data could point them anywhere. They are tested against the sandbox in
test_api_actions and test_api_permissions.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tokens import api_token_create
from tests.factories import make_user
from tests.integrations.api_world import world_build

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20261123,
        "generation": {"max-examples": 10, "deterministic": True},
        "phases": {"stateful": {"enabled": False}},
    }
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
OUTBOUND = r"/(test-calls|refresh|probe|readiness)/$"


def _api_spec() -> dict[str, Any]:
    """The schema as /api/schema/ serves it (generated here: collection has no database)."""
    return SchemaGenerator().get_schema(request=None, public=True)


schema = schemathesis.openapi.from_dict(_api_spec(), config=CONFIG).exclude(
    method="POST", path_regex=OUTBOUND
)
schema.app = WSGIHandler()


@pytest.fixture
def in_test_transaction() -> Iterator[None]:
    """Requests stay inside the test's transaction, as with Django's test client."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def no_outbound_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Belt and braces: nothing here may resolve or reach a host off this machine."""
    real = socket.getaddrinfo

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"fuzzing must not reach {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)


@pytest.fixture
def admin_headers(db: None, sandbox: Any) -> dict[str, str]:
    world_build(sandbox_url=sandbox.url)
    _, raw = api_token_create(user=make_user("admin"), name="fuzz", scope="write")
    return {"Authorization": f"Token {raw}"}


@pytest.mark.slow
@pytest.mark.django_db
@schema.parametrize()
# The fixtures hold the database and the token for the whole run of an operation, on purpose.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_the_api_survives_its_own_schema(
    case: Any, admin_headers: dict[str, str], in_test_transaction: None, no_outbound_network: None
) -> None:
    case.call_and_validate(headers=admin_headers, checks=CHECKS)
