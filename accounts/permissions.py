"""DRF permissions by role: viewers read, engineers and admins also write and run checks."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from accounts.models import ApiToken, TokenScope
from accounts.roles import Role, role_of


class RolePermission(BasePermission):
    """Safe methods need any role; other methods need ``view.write_role`` (default engineer).

    A read-scope API token may only use safe methods, whatever its user's role.
    """

    message = "You do not have permission to perform this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        role = role_of(request.user)
        if role is None:
            if request.user and request.user.is_authenticated:
                self.message = "Your account has no portal role (viewer, engineer or admin)."
            return False
        if request.method in SAFE_METHODS:
            return True
        if isinstance(request.auth, ApiToken) and request.auth.scope == TokenScope.READ:
            self.message = "This API token has read scope: it may only use GET, HEAD and OPTIONS."
            self.code = "token_read_only"
            return False
        required = getattr(view, "write_role", Role.ENGINEER)
        if not role.at_least(required):
            self.message = f"This needs the {required} role; your role is {role}."
            return False
        return True
