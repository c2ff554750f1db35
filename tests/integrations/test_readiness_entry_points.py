"""Readiness reports from the admin, the REST API, the command line and the schedule."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import AuditEvent, Endpoint, ReadinessReport
from integrations.tasks.readiness import readiness_run_task
from tests.helpers import find_leaks, stored_texts
from tests.integrations.readiness_support import DEMO_SECRETS

pytestmark = pytest.mark.django_db


def run_url(endpoint: Endpoint) -> str:
    return reverse("admin:integrations_environment_readiness", args=[endpoint.environment_id])


# --- admin ---------------------------------------------------------------------------


def test_the_environment_page_has_a_run_button(
    demo_endpoint: Endpoint, admin_client: Client
) -> None:
    page = admin_client.get(
        reverse("admin:integrations_environment_change", args=[demo_endpoint.environment_id])
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "Run readiness report" in html and f'action="{run_url(demo_endpoint)}"' in html


def test_the_button_runs_a_report_and_shows_it(
    demo_endpoint: Endpoint, admin_client: Client
) -> None:
    response = admin_client.post(run_url(demo_endpoint))

    report = ReadinessReport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:integrations_readinessreport_change", args=[report.pk]
    )
    page = admin_client.get(response["Location"]).content.decode()
    assert "Ready</strong>" in page and f"{report.pass_count} pass" in page
    assert page.count("<details>") == sum(1 for r in report.results if r["evidence"])
    assert "This is the first report of this environment." in page
    assert "Download JSON" in page and "Download Markdown" in page
    assert report.actor_label == "admin"


def test_the_report_page_compares_with_the_previous_run_and_shows_fixes(
    demo_endpoint: Endpoint, admin_client: Client, sandbox: Any
) -> None:
    admin_client.post(run_url(demo_endpoint))
    sandbox.set_faults(accept_missing=["bearer"])
    admin_client.post(run_url(demo_endpoint))
    latest = ReadinessReport.objects.first()
    assert latest is not None

    page = admin_client.get(
        reverse("admin:integrations_readinessreport_change", args=[latest.pk])
    ).content.decode()
    assert 'id="readiness-changes"' in page
    assert "Endpoint refuses a call without the bearer token" in page
    assert "Refuse calls without a valid access token with 401." in page
    assert "Not ready</strong>" in page


def test_the_run_button_only_accepts_post(demo_endpoint: Endpoint, admin_client: Client) -> None:
    assert admin_client.get(run_url(demo_endpoint)).status_code == 405
    assert not ReadinessReport.objects.exists()


def test_staff_without_change_permission_cannot_run_a_report(
    demo_endpoint: Endpoint, client: Client
) -> None:
    viewer = User.objects.create_user("viewer", password="pw-viewer-123", is_staff=True)
    client.force_login(viewer)
    assert client.post(run_url(demo_endpoint)).status_code == 403
    assert not ReadinessReport.objects.exists()


def test_the_downloads_are_the_redacted_exports(
    demo_endpoint: Endpoint, admin_client: Client
) -> None:
    admin_client.post(run_url(demo_endpoint))
    report = ReadinessReport.objects.get()

    as_json = admin_client.get(reverse("admin:integrations_readinessreport_json", args=[report.pk]))
    as_markdown = admin_client.get(
        reverse("admin:integrations_readinessreport_markdown", args=[report.pk])
    )

    assert as_json["Content-Disposition"].endswith(f'-{report.pk}.json"')
    assert json.loads(as_json.content)["report"] == report.pk
    assert as_markdown["Content-Type"].startswith("text/markdown")
    assert as_markdown.content.decode().startswith("# Integration readiness")
    texts = [as_json.content.decode(), as_markdown.content.decode()]
    assert find_leaks(texts, DEMO_SECRETS) == []


def test_reports_are_read_only_in_the_admin(demo_endpoint: Endpoint, admin_client: Client) -> None:
    admin_client.post(run_url(demo_endpoint))
    report = ReadinessReport.objects.get()
    assert admin_client.get(reverse("admin:integrations_readinessreport_add")).status_code == 403
    delete = reverse("admin:integrations_readinessreport_delete", args=[report.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    listing = admin_client.get(reverse("admin:integrations_readinessreport_changelist"))
    assert listing.status_code == 200 and "Demo Bank / UAT" in listing.content.decode()


# --- REST API ------------------------------------------------------------------------


def api_url(endpoint: Endpoint) -> str:
    return f"/api/v1/environments/{endpoint.environment_id}/readiness/"


@pytest.fixture
def api(admin_user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def test_post_runs_a_report_and_returns_it(demo_endpoint: Endpoint, api: APIClient) -> None:
    response = api.post(api_url(demo_endpoint))

    assert response.status_code == 201
    body = response.json()
    assert body["report"] == ReadinessReport.objects.get().pk
    assert body["ready"] is True and body["run_by"] == "admin"
    assert {r["check"] for r in body["results"]} >= {"identity.opaque", "oauth.wrong_secret"}
    assert find_leaks([response.content.decode()], DEMO_SECRETS) == []
    assert AuditEvent.objects.filter(action="readiness").count() == 1


def test_get_lists_the_reports_newest_first(demo_endpoint: Endpoint, api: APIClient) -> None:
    first = api.post(api_url(demo_endpoint)).json()["report"]
    second = api.post(api_url(demo_endpoint)).json()["report"]

    response = api.get(api_url(demo_endpoint))

    assert response.status_code == 200
    assert [item["report"] for item in response.json()["results"]] == [second, first]


def test_the_api_refuses_users_without_access(demo_endpoint: Endpoint) -> None:
    client = APIClient()
    client.force_authenticate(User.objects.create_user("someone", password="pw-someone-123"))
    assert client.post(api_url(demo_endpoint)).status_code == 403
    assert client.get(api_url(demo_endpoint)).status_code == 403
    assert APIClient().get(api_url(demo_endpoint)).status_code in (401, 403)
    assert not ReadinessReport.objects.exists()


def test_an_unknown_environment_is_404(db: None, api: APIClient) -> None:
    assert api.post("/api/v1/environments/987654/readiness/").status_code == 404
    assert api.get("/api/v1/environments/987654/readiness/").status_code == 404


# --- command line --------------------------------------------------------------------


def test_the_command_prints_the_json_export(demo_endpoint: Endpoint) -> None:
    out = io.StringIO()
    call_command("readiness_report", "demo-bank/uat", "--format", "json", stdout=out)
    document = json.loads(out.getvalue())
    assert document["report"] == ReadinessReport.objects.get().pk
    assert document["run_by"] == "manage.py readiness_report"


def test_the_command_prints_markdown_by_id(demo_endpoint: Endpoint) -> None:
    out = io.StringIO()
    call_command("readiness_report", str(demo_endpoint.environment_id), stdout=out)
    assert out.getvalue().startswith("# Integration readiness: Demo Bank / UAT")
    assert find_leaks([out.getvalue()], DEMO_SECRETS) == []


@pytest.mark.parametrize("reference", ["demo-bank/prod", "nobody/uat", "12345", "uat"])
def test_the_command_refuses_an_unknown_environment(
    demo_endpoint: Endpoint, reference: str
) -> None:
    with pytest.raises(CommandError, match="No environment"):
        call_command("readiness_report", reference, stdout=io.StringIO())


# --- schedule ------------------------------------------------------------------------


def test_the_task_runs_a_report_from_an_id(demo_endpoint: Endpoint) -> None:
    readiness_run_task(demo_endpoint.environment_id)
    report = ReadinessReport.objects.get()
    assert (
        report.actor_label == "schedule" and report.environment_id == demo_endpoint.environment_id
    )


def test_the_task_skips_a_disabled_or_deleted_environment(demo_endpoint: Endpoint) -> None:
    environment = demo_endpoint.environment
    environment.is_enabled = False
    environment.save()
    readiness_run_task(environment.pk)
    readiness_run_task(987654)
    assert not ReadinessReport.objects.exists()


def test_the_task_is_registered_with_acks_late() -> None:
    assert readiness_run_task.name == "integrations.tasks.readiness.readiness_run_task"
    assert readiness_run_task.acks_late is True


# --- verification key in the admin ---------------------------------------------------


def test_the_jwt_verification_key_is_write_only_in_the_admin(
    demo_endpoint: Endpoint, admin_client: Client
) -> None:
    auth = demo_endpoint.customer_auth
    url = reverse("admin:integrations_customerauth_change", args=[auth.pk])
    fields = {
        "environment": auth.environment_id,
        "name": auth.name,
        "authenticate_url": auth.authenticate_url,
        "mode": auth.mode,
        "username_field": "username",
        "password_field": "password",
        "token_field": "JWT",
        "expires_in_field": "expires_in",
        "issued_at_field": "issued_at",
        "cookie_name": "session",
        "identity_claim": "sub",
        "jwt_verification_key": "canary-shared-signing-secret",
        "jwks_url": "",
        "test_users-TOTAL_FORMS": "0",
        "test_users-INITIAL_FORMS": "0",
        "test_users-MIN_NUM_FORMS": "0",
        "test_users-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(url, fields)
    assert response.status_code == 302, response.content.decode()[:2000]

    auth.refresh_from_db()
    assert auth.jwt_verification_key.reveal() == "canary-shared-signing-secret"
    page = admin_client.get(url).content.decode()
    assert "canary-shared-signing-secret" not in page and "set · fingerprint" in page
    assert find_leaks((v for _, _, v in stored_texts()), ["canary-shared-signing-secret"]) == []
