"""Shared helpers of the readiness tests: run some checks, read their verdicts."""

from __future__ import annotations

from typing import Any

from integrations.models import Endpoint, Environment
from integrations.services.readiness.runner import CHECKS, checks_run
from sandbox.config import DEV_SIGNING_KEY

# Every secret the demo customer holds, as canaries for leak scans.
DEMO_SECRETS = ["demo-client-secret", "demo-api-key", "alice-password", "bob-password"]


def run_checks(environment: Environment, *check_ids: str) -> list[dict[str, Any]]:
    """The stored (redacted) results of the named checks only."""
    unknown = set(check_ids) - {check.id for check in CHECKS}
    assert not unknown, f"no such checks: {unknown}"
    return checks_run(environment=environment, checks=tuple(c for c in CHECKS if c.id in check_ids))


def one(environment: Environment, check_id: str) -> dict[str, Any]:
    """The single result of a check that has one target in the demo environment."""
    results = run_checks(environment, check_id)
    assert len(results) == 1, results
    return results[0]


def with_verification_key(endpoint: Endpoint, key: str = DEV_SIGNING_KEY) -> Environment:
    """The demo environment, its customer auth told the key the sandbox signs JWTs with."""
    auth = endpoint.customer_auth
    assert auth is not None
    auth.jwt_verification_key = key
    auth.save()
    return endpoint.environment
