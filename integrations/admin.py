"""Admin screens: customer → environments → credentials and endpoints, with audit events."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db import models
from django.db.models import QuerySet
from django.forms import BaseModelForm
from django.http import HttpRequest

from integrations import (
    admin_health,  # noqa: F401  (registers the health pages)
    clock,
)
from integrations.admin_destinations import DestinationAdminMixin
from integrations.admin_endpoint_forms import EndpointForm, EnvironmentEndpointsFormSet
from integrations.admin_forms import (
    AddedRowForm,
    AddedRowSecretsForm,
    AdminModelForm,
    KeepSecretsForm,
    LabelledFormSetMixin,
    WriteOnlySecretsForm,
    WriteOnlySecretsKeepForm,
    secret_status,
)
from integrations.admin_readiness import EnvironmentReadinessMixin
from integrations.admin_test_calls import EndpointTestCallMixin
from integrations.admin_token_status import TokenStatusColumnsMixin
from integrations.choices import AuditAction
from integrations.json_limits import BoundedJSONFormField
from integrations.models import (
    AccessToken,
    ApiKey,
    AuditEvent,
    Customer,
    CustomerAuth,
    Endpoint,
    Environment,
    OAuthClient,
    TestUser,
    UserSession,
)
from integrations.services.audit import audit_record
from integrations.services.test_user_defaults import endpoints_default_test_user_fill

# The response field names of a login or token answer: the guide's by default, shown
# folded on the environment page because most customers keep them.
OAUTH_FIELD_NAMES = (
    "access_token_field",
    "token_type_field",
    "expires_in_field",
    "issued_at_field",
)
LOGIN_FIELD_NAMES = (
    "username_field",
    "password_field",
    "token_field",
    "expires_in_field",
    "issued_at_field",
    "identity_claim",
)


class AuditedAdminMixin:
    """Writes an AuditEvent for every create, change and delete, inlines included."""

    def save_model(self, request: HttpRequest, obj: Any, form: BaseModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        action = AuditAction.CHANGE if change else AuditAction.CREATE
        audit_record(
            action=action,
            actor=request.user,
            request=request,
            obj=obj,
            changed_fields=list(form.changed_data),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_record(action=AuditAction.DELETE, actor=request.user, request=request, obj=obj)
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            audit_record(action=AuditAction.DELETE, actor=request.user, request=request, obj=obj)
        super().delete_queryset(request, queryset)  # type: ignore[misc]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        formset.save()
        for obj in formset.new_objects:
            audit_record(action=AuditAction.CREATE, actor=request.user, request=request, obj=obj)
        for obj, fields in formset.changed_objects:
            audit_record(
                action=AuditAction.CHANGE,
                actor=request.user,
                request=request,
                obj=obj,
                changed_fields=list(fields),
            )
        for obj in formset.deleted_objects:
            audit_record(action=AuditAction.DELETE, actor=request.user, request=request, obj=obj)


class SecretStatusMixin:
    """List columns that say whether a secret is set, with its fingerprint."""

    @admin.display(description="secret")
    def secret_state(self, obj: Any) -> str:
        field = next(f for f in ("client_secret", "password", "value") if hasattr(obj, f))
        return secret_status(getattr(obj, field))


def seals_bound_to_user(form: Any, request: HttpRequest) -> Any:
    """Bind the seals of secrets typed into ``form`` (a class made for this request) to
    the requesting user: another user's seal is refused (see admin_forms.secret_seal)."""
    if issubclass(form, WriteOnlySecretsForm):
        form.seal_owner = request.user.pk
    return form


class SealOwnerAdminMixin(admin.ModelAdmin):
    """A change page whose typed secrets are sealed for the requesting user."""

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        return seals_bound_to_user(super().get_form(request, obj, change, **kwargs), request)


# --- inlines -----------------------------------------------------------------


class LabelledInlineMixin:
    """Inline rows whose every input has an accessible name (see inputs_labelled), and
    whose typed secrets are sealed for the requesting user."""

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)  # type: ignore[misc]
        seals_bound_to_user(formset.form, request)
        return type(formset.__name__, (LabelledFormSetMixin, formset), {})


class EnvironmentInline(LabelledInlineMixin, admin.TabularInline):
    model = Environment
    form = AddedRowForm
    extra = 0
    show_change_link = True
    fields = ["name", "slug", "kind", "base_url", "is_enabled", "verify_tls"]
    prepopulated_fields = {"slug": ["name"]}


class OAuthClientInline(LabelledInlineMixin, admin.StackedInline):
    model = OAuthClient
    form = AddedRowSecretsForm
    extra = 0
    show_change_link = True
    fieldsets = [
        (
            None,
            {"fields": ("name", "token_url", "client_id", "client_secret", "scope", "auth_style")},
        ),
        ("Field names", {"classes": ["collapse"], "fields": OAUTH_FIELD_NAMES}),
    ]


class CustomerAuthInline(LabelledInlineMixin, admin.StackedInline):
    model = CustomerAuth
    form = AddedRowForm
    extra = 0
    show_change_link = True
    fieldsets = [
        (None, {"fields": ("name", "authenticate_url", "mode", "cookie_name", "jwks_url")}),
        ("Field names", {"classes": ["collapse"], "fields": LOGIN_FIELD_NAMES}),
    ]


class ApiKeyInline(LabelledInlineMixin, admin.TabularInline):
    model = ApiKey
    form = AddedRowSecretsForm
    extra = 0
    fields = ["name", "header_name", "value", "expires_on", "notes"]


class EndpointInline(LabelledInlineMixin, admin.TabularInline):
    model = Endpoint
    form = EndpointForm
    formset = EnvironmentEndpointsFormSet
    extra = 0
    show_change_link = True
    fields = [
        "name",
        "slug",
        "method",
        "path",
        "oauth_client",
        "customer_auth",
        "api_key",
        "identifier_location",
        "probe_enabled",
        "probe_interval_s",
    ]
    prepopulated_fields = {"slug": ["name"]}


class TestUserInline(LabelledInlineMixin, admin.TabularInline):
    model = TestUser
    form = AddedRowSecretsForm
    extra = 0
    fields = ["label", "username", "password", "is_active"]


# --- model admins ------------------------------------------------------------


@admin.register(Customer)
class CustomerAdmin(DestinationAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = AdminModelForm
    list_display = ["name", "slug", "is_active", "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [EnvironmentInline]


@admin.register(Environment)
class EnvironmentAdmin(
    DestinationAdminMixin, EnvironmentReadinessMixin, AuditedAdminMixin, admin.ModelAdmin
):
    form = KeepSecretsForm
    offers_keep_secrets = True
    list_display = ["__str__", "kind", "base_url", "is_enabled", "verify_tls"]
    list_filter = ["kind", "is_enabled", "customer"]
    list_select_related = ["customer"]
    search_fields = ["name", "customer__name", "base_url"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [OAuthClientInline, CustomerAuthInline, ApiKeyInline, EndpointInline]


@admin.register(OAuthClient)
class OAuthClientAdmin(
    DestinationAdminMixin,
    SealOwnerAdminMixin,
    AuditedAdminMixin,
    SecretStatusMixin,
    TokenStatusColumnsMixin,
    admin.ModelAdmin,
):
    form = WriteOnlySecretsKeepForm
    offers_keep_secrets = True
    token_row = "access_token"
    list_display = [
        "client_id",
        "environment",
        "auth_style",
        "secret_state",
        "token_failures",
        "token_error_code",
        "token_next_attempt",
    ]
    list_select_related = ["environment__customer", "access_token"]
    search_fields = ["client_id", "environment__customer__name"]


@admin.register(CustomerAuth)
class CustomerAuthAdmin(
    DestinationAdminMixin, SealOwnerAdminMixin, AuditedAdminMixin, admin.ModelAdmin
):
    form = WriteOnlySecretsKeepForm  # the JWT verification key may be a shared secret
    offers_keep_secrets = True
    list_display = ["__str__", "mode", "authenticate_url"]
    list_select_related = ["environment__customer"]
    inlines = [TestUserInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Endpoints saved before their customer auth had its (only) test user get it now.
        endpoints_default_test_user_fill(
            customer_auth=form.instance, actor=request.user, request=request
        )


@admin.register(TestUser)
class TestUserAdmin(
    DestinationAdminMixin,
    SealOwnerAdminMixin,
    AuditedAdminMixin,
    SecretStatusMixin,
    TokenStatusColumnsMixin,
    admin.ModelAdmin,
):
    form = WriteOnlySecretsForm
    token_row = "session"
    list_display = [
        "label",
        "username",
        "customer_auth",
        "is_active",
        "secret_state",
        "token_failures",
        "token_error_code",
        "token_next_attempt",
    ]
    list_select_related = ["customer_auth__environment__customer", "session"]
    search_fields = ["label", "username"]

    def save_model(self, request: HttpRequest, obj: Any, form: BaseModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        endpoints_default_test_user_fill(
            customer_auth=obj.customer_auth, actor=request.user, request=request
        )


@admin.register(ApiKey)
class ApiKeyAdmin(
    DestinationAdminMixin,
    SealOwnerAdminMixin,
    AuditedAdminMixin,
    SecretStatusMixin,
    admin.ModelAdmin,
):
    form = WriteOnlySecretsForm
    list_display = ["name", "header_name", "environment", "expires_on", "secret_state"]
    list_select_related = ["environment__customer"]


@admin.register(Endpoint)
class EndpointAdmin(EndpointTestCallMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = EndpointForm
    list_display = ["name", "method", "path", "environment", "probe_enabled", "probe_interval_s"]
    list_filter = ["probe_enabled", "method", "environment__customer"]
    list_select_related = ["environment__customer"]
    search_fields = ["name", "path"]
    # Deeply nested JSON in a template textarea is a form error, not a RecursionError.
    formfield_overrides = {models.JSONField: {"form_class": BoundedJSONFormField}}
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["environment", "name", "slug", "method", "path", "follow_redirects"]}),
        ("Request", {"fields": ["headers_template", "body_template", "sample_variables"]}),
        (
            "Credentials",
            {"fields": ["oauth_client", "customer_auth", "api_key", "default_test_user"]},
        ),
        (
            "Customer identifier",
            {
                "fields": [
                    "identifier_location",
                    "identifier_header",
                    "identifier_format",
                    "identifier_body_field",
                ]
            },
        ),
        (
            "Checks",
            {
                "fields": [
                    "timeout_ms",
                    "expected_status",
                    "assertions",
                    "probe_enabled",
                    "probe_interval_s",
                    "retry_interval_s",
                    "failure_threshold",
                    "success_threshold",
                ]
            },
        ),
    ]

    class Media:
        # Shows only the identifier fields of the chosen location (help texts say it without JS).
        js = ["portal/admin_identifier.js"]


class CachedTokenAdmin(admin.ModelAdmin):
    """Read-only view of a token cache row: expiry and refresh outcome, never the token."""

    exclude = ["token"]
    list_display = [
        "__str__",
        "fetched_at",
        "next_refresh_at",
        "seconds_to_expiry",
        "last_outcome",
        "failing",
        "last_error_code",
        "consecutive_failures",
    ]
    list_filter = ["last_outcome"]

    @admin.display(description="seconds to expiry")
    def seconds_to_expiry(self, obj: Any) -> int | None:
        if obj.expires_at is None:
            return None
        return max(0, int((obj.expires_at - clock.now()).total_seconds()))

    @admin.display(description="failing", boolean=True)
    def failing(self, obj: Any) -> bool:
        return bool(obj.consecutive_failures >= settings.TOKEN_FAILING_AFTER)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False


admin.site.register(AccessToken, CachedTokenAdmin)
admin.site.register(UserSession, CachedTokenAdmin)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "action", "object_type", "object_repr", "ip_address"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "object_repr"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return False
