"""Login forms that refuse a throttled username and address before checking the password."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import ApiToken
from accounts.throttle import client_ip, login_blocked, login_blocked_message
from integrations.choices import AuditAction
from integrations.services.audit import audit_record


class ThrottledLoginMixin:
    """Checked before authenticate(), so a blocked pair cannot keep guessing."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""  # type: ignore[attr-defined]
        ip = client_ip(self.request)  # type: ignore[attr-defined]
        if login_blocked(username=username, ip=ip):
            audit_record(
                action=AuditAction.LOGIN_FAILED,
                actor_label=username[:150],
                request=self.request,  # type: ignore[attr-defined]
                detail={"reason": "throttled"},
            )
            raise forms.ValidationError(login_blocked_message(), code="throttled")
        return super().clean()  # type: ignore[misc]


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    """The login page of /accounts/login/ (people without admin access, the browsable API)."""


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin's login page."""


class ApiTokenForm(forms.ModelForm):
    """New token in the admin: who, what for, which scope, until when."""

    class Meta:
        model = ApiToken
        fields = ["name", "user", "scope", "expires_at"]
