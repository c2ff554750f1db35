"""Whole readiness reports: stored, audited, compared with the last run, exported, leak-free."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User

from integrations.models import AuditEvent, Endpoint, ReadinessReport
from integrations.services import token_fetch
from integrations.services.readiness import (
    checks_oauth,
    context,
    readiness_compare,
    readiness_json,
    readiness_markdown,
    readiness_previous,
    readiness_run,
)
from integrations.services.readiness.results import Check
from integrations.services.readiness.runner import CHECKS, checks_run
from sandbox.config import DEV_SIGNING_KEY
from tests.factories import make_endpoint
from tests.helpers import find_leaks, stored_texts
from tests.integrations.readiness_support import DEMO_SECRETS, with_verification_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued_tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the readiness checks fetch (the real fetch, observed on the way out)."""
    tokens: list[str] = []

    def observed(fetch: Any) -> Any:
        def wrapper(**kwargs: Any) -> Any:
            fetched = fetch(**kwargs)
            tokens.append(fetched.value)
            return fetched

        return wrapper

    for module in (context, checks_oauth):
        for name in ("oauth_token_fetch", "user_session_fetch"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, observed(getattr(token_fetch, name)))
    return tokens


def verdicts(report: ReadinessReport) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for result in report.results:
        found.setdefault(result["check"], set()).add(result["verdict"])
    return found


def test_a_compliant_sandbox_passes_every_check(demo_endpoint: Endpoint, admin_user: User) -> None:
    environment = with_verification_key(demo_endpoint)
    report = readiness_run(environment=environment, actor=admin_user)

    expected = {check: {"pass"} for check in verdicts(report)}
    expected["transport.tls"] = {"not_applicable"}  # UAT over http
    assert verdicts(report) == expected
    assert report.is_ready and report.fail_count == report.error_count == report.warn_count == 0
    assert report.not_applicable_count == 1 and report.pass_count == len(report.results) - 1
    assert report.actor == admin_user and report.actor_label == "admin"
    assert report.finished_at >= report.started_at


def test_a_run_is_audited_without_secrets(demo_endpoint: Endpoint, admin_user: User) -> None:
    report = readiness_run(environment=demo_endpoint.environment, actor=admin_user)
    event = AuditEvent.objects.get(action="readiness")
    assert event.actor == admin_user and event.object_id == str(demo_endpoint.environment_id)
    assert event.detail == {"readiness_report": report.pk, "summary": report.summary()}


def test_a_run_without_a_person_is_labelled(demo_endpoint: Endpoint) -> None:
    report = readiness_run(environment=demo_endpoint.environment, actor_label="schedule")
    assert report.actor is None and report.actor_label == "schedule"
    assert AuditEvent.objects.get(action="readiness").actor_label == "schedule"


def test_a_crashing_check_becomes_an_error_verdict(demo_endpoint: Endpoint) -> None:
    def explode(check: Check, ctx: Any) -> list:
        raise RuntimeError("the check has a bug")

    broken = Check("broken", "A broken check", "Nothing.", explode)
    healthy = next(check for check in CHECKS if check.id == "oauth.token")
    results = checks_run(environment=demo_endpoint.environment, checks=(broken, healthy))

    assert [r["verdict"] for r in results] == ["error", "pass"]
    assert "RuntimeError: the check has a bug" in results[0]["message"]
    assert results[0]["fix"]


def test_a_failing_environment_is_not_ready(demo_endpoint: Endpoint, sandbox: Any) -> None:
    sandbox.set_faults(accept_missing=["bearer"], jwt_pii="email")
    report = readiness_run(environment=demo_endpoint.environment)
    failed = {r["check"] for r in report.results if r["verdict"] == "fail"}
    assert failed == {"endpoint.requires_bearer", "identity.opaque"}
    assert not report.is_ready and report.fail_count == 2


def test_compare_names_verdict_changes_and_new_and_removed_targets(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    environment = demo_endpoint.environment
    first = readiness_run(environment=environment)
    sandbox.set_faults(accept_missing=["api_key"])
    make_endpoint(
        environment=environment,
        slug="orders",
        path="/account/getprofile",
        headers_template={"content-type": "application/json"},
        body_template={},
        oauth_client=demo_endpoint.oauth_client,
        customer_auth=demo_endpoint.customer_auth,
        api_key=demo_endpoint.api_key,
    )
    second = readiness_run(environment=environment)

    assert readiness_previous(report=second) == first
    assert readiness_previous(report=first) is None
    changes = readiness_compare(report=second, previous=first)
    changed = {(c["check"], c["target"]): (c["change"], c["before"], c["after"]) for c in changes}
    assert changed[("endpoint.requires_api_key", "getprofile")] == ("changed", "pass", "fail")
    assert changed[("endpoint.requires_api_key", "orders")] == ("new", None, "fail")
    assert changed[("latency", "endpoint:orders")] == ("new", None, "pass")
    assert readiness_compare(report=first, previous=second)[-1]["change"] == "removed"
    assert readiness_compare(report=first, previous=None) == []


def test_no_secret_or_token_is_stored_or_exported(
    demo_endpoint: Endpoint, sandbox: Any, issued_tokens: list[str]
) -> None:
    # Failing checks carry the most evidence: the wire of refused and lenient calls.
    sandbox.set_faults(token_endpoint_lenient="token", accept_missing=["customer_auth"])
    environment = with_verification_key(demo_endpoint)
    report = readiness_run(environment=environment)
    canaries = [*DEMO_SECRETS, DEV_SIGNING_KEY, *issued_tokens]
    assert len(issued_tokens) > 10

    exports = [json.dumps(readiness_json(report)), readiness_markdown(report)]
    assert find_leaks(exports, canaries) == []
    assert find_leaks((value for _, _, value in stored_texts()), canaries) == []
    assert "[REDACTED]" in exports[0]


def test_the_json_export_is_the_report_to_send(demo_endpoint: Endpoint) -> None:
    report = readiness_run(environment=demo_endpoint.environment)
    document = readiness_json(report)
    assert document["customer"] == "Demo Bank" and document["environment"]["name"] == "UAT"
    assert document["ready"] is True and document["summary"]["pass"] == report.pass_count
    assert [r["check"] for r in document["results"]][:2] == [
        "customer_auth.login",
        "customer_auth.expiry",
    ]
    assert set(document["results"][0]) == {
        "check",
        "title",
        "verdict",
        "target",
        "evidence",
        "fix",
        "message",
    }


def test_the_markdown_export_lists_every_check_and_what_to_fix(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(shared_identity=True)
    report = readiness_run(environment=demo_endpoint.environment)
    text = readiness_markdown(report)
    assert text.startswith("# Integration readiness: Demo Bank / UAT")
    assert "**not ready**" in text
    assert text.count("\n| ") == len(report.results) + 2  # header, rule, one per result
    assert "### FAIL: Customer identifier is unique per customer (default)" in text
    assert "**Fix:** Give every customer their own identifier." in text
    assert "```json" in text
