"""Admin for API tokens (shown once after creation, revocable) and the throttled login."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import BaseModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from accounts.forms import ApiTokenForm, ThrottledAdminAuthenticationForm
from accounts.models import ApiToken
from accounts.tokens import api_token_revoke, api_token_save
from integrations.choices import AuditAction
from integrations.services.audit import audit_record

admin.site.login_form = ThrottledAdminAuthenticationForm

# Where save_model leaves the plaintext for response_add, on this request only.
_PLAINTEXT_ATTR = "_api_token_plaintext"


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = [
        "name",
        "user",
        "prefix",
        "scope",
        "state",
        "expires_at",
        "last_used_at",
        "created_at",
    ]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke_selected"]

    @admin.display(description="state")
    def state(self, obj: ApiToken) -> str:
        return "revoked" if obj.revoked_at else "active"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        # A token's identity, scope and expiry are fixed: revoke it and make a new one.
        return ["user", "scope", "expires_at", "prefix", "revoked_at", "last_used_at"]

    def save_model(self, request: HttpRequest, obj: Any, form: BaseModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            audit_record(
                action=AuditAction.CHANGE,
                actor=request.user,
                request=request,
                obj=obj,
                changed_fields=list(form.changed_data),
            )
            return
        raw = api_token_save(token=obj, actor=request.user, request=request)
        setattr(request, _PLAINTEXT_ATTR, raw)

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        raw = getattr(request, _PLAINTEXT_ATTR, None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "API token created",
            "opts": self.model._meta,
            "token": obj,
            "plaintext": raw,
        }
        response: HttpResponse = TemplateResponse(
            request, "admin/accounts/apitoken/created.html", context
        )
        response["Cache-Control"] = "no-store"  # the page holds the only copy of the token
        return response

    @admin.action(description="Revoke selected API tokens", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = sum(
            api_token_revoke(token=token, actor=request.user, request=request) for token in queryset
        )
        self.message_user(request, f"Revoked {revoked} API token(s).", messages.SUCCESS)
