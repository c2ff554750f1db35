"""Roles as groups: role_of, the groups' permissions, and what each role may do in the admin."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.roles import Role, role_of, role_required, roles_sync
from integrations.models import Customer
from tests.factories import make_customer, make_user

pytestmark = pytest.mark.django_db


def codes(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_role_of_gives_the_highest_group_and_admin_for_a_superuser() -> None:
    assert role_of(AnonymousUser()) is None
    assert role_of(make_user(None)) is None
    assert role_of(make_user("viewer")) is Role.VIEWER
    both = make_user("viewer")
    both.groups.add(Group.objects.get(name="engineer"))
    assert role_of(User.objects.get(pk=both.pk)) is Role.ENGINEER
    assert role_of(User.objects.create_superuser("root", password="x")) is Role.ADMIN
    assert role_of(make_user("admin", is_active=False)) is None


def test_the_groups_hold_view_configure_and_all_permissions() -> None:
    viewer, engineer, admin = codes("viewer"), codes("engineer"), codes("admin")
    assert "integrations.view_customer" in viewer and "integrations.view_auditevent" in viewer
    assert all(code.split(".")[1].startswith("view_") for code in viewer)
    assert {"integrations.add_endpoint", "integrations.change_oauthclient"} <= engineer
    assert "integrations.delete_testuser" in engineer
    assert "integrations.change_auditevent" not in engineer
    assert "accounts.add_apitoken" not in engineer and "auth.add_user" not in engineer
    assert admin == {f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.all()}


def test_syncing_again_changes_nothing() -> None:
    before = {role: codes(role) for role in Role}
    roles_sync(group_model=Group, permission_model=Permission)
    assert {role: codes(role) for role in Role} == before


def admin_client_for(role: str) -> Client:
    client = Client()
    client.force_login(make_user(role))
    return client


def test_a_staff_viewer_can_open_the_admin_but_not_change_anything() -> None:
    customer = make_customer(name="Acme")
    client = admin_client_for("viewer")
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("admin:integrations_customer_changelist")).status_code == 200
    page = client.get(reverse("admin:integrations_customer_change", args=[customer.pk]))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    change = client.post(
        reverse("admin:integrations_customer_change", args=[customer.pk]),
        {"name": "Renamed", "slug": "acme"},
    )
    assert change.status_code == 403
    assert client.get(reverse("admin:integrations_customer_add")).status_code == 403
    assert Customer.objects.get().name == "Acme"
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403


def test_an_engineer_configures_customers_but_not_users_or_tokens() -> None:
    client = admin_client_for("engineer")
    data = {
        "name": "Acme",
        "slug": "acme",
        "is_active": "on",
        **{
            f"environments-{k}": v
            for k, v in {
                "TOTAL_FORMS": "0",
                "INITIAL_FORMS": "0",
                "MIN_NUM_FORMS": "0",
                "MAX_NUM_FORMS": "1000",
            }.items()
        },
    }
    assert client.post(reverse("admin:integrations_customer_add"), data).status_code == 302
    assert Customer.objects.filter(slug="acme").exists()
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
    assert client.get(reverse("admin:accounts_apitoken_changelist")).status_code == 403


def test_an_admin_manages_users_and_tokens() -> None:
    client = admin_client_for("admin")
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 200
    assert client.get(reverse("admin:accounts_apitoken_add")).status_code == 200


def _page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def test_role_required_sends_anonymous_users_to_login_and_refuses_lower_roles() -> None:
    view = role_required(Role.ENGINEER)(_page)
    request = RequestFactory().get("/dashboard/")
    request.user = AnonymousUser()
    assert view(request).status_code == 302
    request.user = make_user("viewer")
    with pytest.raises(PermissionDenied):
        view(request)
    request.user = make_user("engineer")
    assert view(request).status_code == 200


@pytest.mark.parametrize(
    ("role", "shown"), [("viewer", "viewer False"), ("engineer", "engineer True")]
)
def test_pages_see_the_role_in_their_context(role: str, shown: str) -> None:
    request: Any = RequestFactory().get("/")
    request.user = make_user(role)
    template = engines["django"].from_string("{{ portal_role }} {{ portal_can_configure }}")
    assert template.render({}, request) == shown
