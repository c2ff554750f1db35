"""Roles of people and tools: viewer < engineer < admin, held as Django groups.

- viewer: reads status, history and configuration (never a secret).
- engineer: also configures customers, runs test calls and probes, refreshes tokens.
- admin: everything, including users, API tokens and key rotation.

The groups and their model permissions are code: a data migration creates them and
every ``migrate`` re-applies them, so models added later get the right permissions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, TypeVar, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


class Role(StrEnum):
    VIEWER = "viewer"
    ENGINEER = "engineer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


# Integrations models an engineer may add, change and delete from the admin.
ENGINEER_MODELS = frozenset(
    {"customer", "environment", "oauthclient", "customerauth", "testuser", "apikey", "endpoint"}
)


_UNSET = object()


def role_of(user: Any) -> Role | None:
    """The user's highest role; a superuser is an admin; None for anonymous or no group."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return Role.ADMIN
    cached = getattr(user, "_portal_role", _UNSET)  # once per request's user object
    if cached is not _UNSET:
        return cast(Role | None, cached)
    names = set(user.groups.values_list("name", flat=True))
    role = max((r for r in Role if r.value in names), key=lambda r: r.rank, default=None)
    user._portal_role = role
    return role


def permission_granted(role: Role, *, app_label: str, codename: str) -> bool:
    """Whether the role's group holds the model permission (app_label, codename)."""
    if role is Role.ADMIN:
        return True
    if app_label != "integrations":
        return False
    action, _, model = codename.partition("_")
    if action == "view":
        return True
    return role is Role.ENGINEER and model in ENGINEER_MODELS


def roles_sync(*, group_model: Any, permission_model: Any) -> None:
    """Create the role groups and set their permissions (works on historical models too)."""
    permissions = list(permission_model.objects.select_related("content_type"))
    for role in Role:
        group, _ = group_model.objects.get_or_create(name=role.value)
        group.permissions.set(_granted(role, permissions))


def _granted(role: Role, permissions: Iterable[Any]) -> list[Any]:
    return [
        p
        for p in permissions
        if permission_granted(role, app_label=p.content_type.app_label, codename=p.codename)
    ]


View = TypeVar("View", bound=Callable[..., HttpResponse])


def role_required(role: Role) -> Callable[[View], View]:
    """Decorate a page view: anonymous users go to the login page, others need ``role``."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            held = role_of(request.user)
            if held is None or not held.at_least(role):
                raise PermissionDenied(f"This page needs the {role} role.")
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate
