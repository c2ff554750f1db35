"""Template context: the current user's role, so pages can show or hide controls."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.roles import Role, role_of


def portal_role(request: HttpRequest) -> dict[str, Any]:
    """``portal_role`` ("viewer", "engineer", "admin" or None) and ``portal_can_configure``."""

    def can_configure() -> bool:
        role = role_of(request.user)
        return role is not None and role.at_least(Role.ENGINEER)

    return {
        "portal_role": SimpleLazyObject(lambda: role_of(request.user)),
        "portal_can_configure": SimpleLazyObject(can_configure),
    }
