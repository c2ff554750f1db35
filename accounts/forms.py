"""Login forms that refuse a locked-out username or address before checking the password."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from accounts.lockouts import refusal_log
from accounts.models import ApiToken
from accounts.throttle import client_ip, login_refusal, login_refused_message


class ThrottledLoginMixin:
    """Checked before authenticate(), so a locked-out attacker cannot keep guessing.

    The refusal is the form's one non-field error, whichever limit refused and whether or
    not the username exists: the same page and status as any other failed login.
    """

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""  # type: ignore[attr-defined]
        ip = client_ip(self.request)  # type: ignore[attr-defined]
        scope = login_refusal(username=username, ip=ip)
        if scope is not None:
            refusal_log(scope=scope, label=username, ip=ip)
            raise forms.ValidationError(login_refused_message(), code="throttled")
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
