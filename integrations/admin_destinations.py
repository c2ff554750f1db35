"""Admin pages whose saves may move where secrets go (see services.destinations).

The page's object is snapshotted before anything is saved and settled after its
inlines are saved: an inline row saved from a stale copy of a credential would
otherwise write back a secret cleared a moment earlier.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.forms import BaseModelForm
from django.http import HttpRequest

from integrations.admin_forms import KEEP_SECRETS
from integrations.services.destinations import (
    destination_change_settle,
    destinations_snapshot,
    may_keep_secrets,
)

_BEFORE = "_destinations_before"  # set on the form instance, which lives for one request


class DestinationAdminMixin(admin.ModelAdmin):
    """Clears secrets a change sends to a new origin; admins may keep them on pages that
    offer the checkbox (``offers_keep_secrets``, with a KeepSecretsForm)."""

    offers_keep_secrets = False

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        # modelform_factory made a fresh class for this request: safe to mark it.
        form.may_keep_secrets = may_keep_secrets(request.user)  # type: ignore[attr-defined]
        return form

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields: list[Any] = [f for f in super().get_fields(request, obj) if f != KEEP_SECRETS]
        if self.offers_keep_secrets and obj is not None and may_keep_secrets(request.user):
            fields.append(KEEP_SECRETS)
        return fields

    def save_model(self, request: HttpRequest, obj: Any, form: BaseModelForm, change: bool) -> None:
        if change:
            setattr(form, _BEFORE, destinations_snapshot(obj=obj))  # still the stored row
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        before = getattr(form, _BEFORE, None)
        if before is None:
            return
        outcome = destination_change_settle(
            obj=form.instance,
            before=before,
            keep_secrets=bool(form.cleaned_data.get(KEEP_SECRETS)),
            actor=request.user,
            request=request,
            via="admin",
        )
        if outcome is not None:
            level = messages.INFO if outcome.kept else messages.WARNING
            messages.add_message(request, level, outcome.message)
