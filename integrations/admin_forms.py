"""Admin forms: write-only secrets, errors that land where the page shows them, added rows kept.

A secret field renders empty, shows only whether a value is set and its short
fingerprint, and a blank submission keeps the stored value. A value typed into a form
that fails validation comes back sealed (encrypted), never in plain text.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import InvalidToken
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import models
from django.utils.html import format_html
from django.utils.safestring import SafeString

from integrations import clock, crypto
from integrations.crypto import SecretDecryptionError
from integrations.fields import EncryptedSecretField, validate_secret_length

# Secrets without which the credential cannot work: required when nothing is stored yet.
REQUIRED_SECRETS = {"client_secret", "password", "value"}
SEALED_SUFFIX = "__sealed"
SEAL_PURPOSE = "portal-admin-form-seal"
SEAL_MAX_AGE_S = 3600
SEAL_REFUSED_MESSAGE = "Your typed value has expired or could not be kept; type it again."


def secret_status(secret: Any) -> str:
    """'set · fingerprint ab12cd34', 'not set', or a note that the key is missing."""
    if not secret:
        return "not set"
    try:
        return f"set · fingerprint {secret.fingerprint()}"
    except SecretDecryptionError:
        return "set, but not decryptable with the current keys: enter it again"


def secret_field_names(model: type[models.Model]) -> list[str]:
    return [f.name for f in model._meta.fields if isinstance(f, EncryptedSecretField)]


def secret_seal(*, field: str, owner: Any, value: str) -> str:
    """``value`` encrypted for one form round trip of model field ``field`` by user ``owner``.

    The purpose, model field and user are sealed with it, so a stored secret's ciphertext
    (same keys) is never accepted as a seal, nor one field's or user's seal for another.
    The model field, not the input's name: the admin renumbers added rows when one is
    deleted. Fernet's own timestamp dates the seal (see secret_unseal).
    """
    plaintext = f"{SEAL_PURPOSE}:{field}:{owner}:{value}"
    # crypto exposes no timed encrypt; the portal's clock dates the seal so tests can move it.
    sealed = crypto._keys().encrypt_at_time(plaintext.encode(), _clock_s())
    return sealed.decode()


def secret_unseal(*, field: str, owner: Any, sealed: str) -> str | None:
    """The value sealed for ``field`` and ``owner``; None when it is not such a seal, or older
    than SEAL_MAX_AGE_S."""
    try:
        plaintext = crypto._keys().decrypt_at_time(sealed.encode(), SEAL_MAX_AGE_S, _clock_s())
        purpose, sealed_for, sealed_by, value = plaintext.decode().split(":", 3)
    except (InvalidToken, UnicodeError, ValueError):
        return None
    ours = (purpose, sealed_for, sealed_by) == (SEAL_PURPOSE, field, str(owner))
    return value if ours else None


def _clock_s() -> int:
    return int(clock.now().timestamp())


class RefusedSeal:
    """What an input posts when its seal was refused: neither a value nor "left blank"."""


SEAL_REFUSED = RefusedSeal()


class SealedPasswordInput(forms.PasswordInput):
    """A password input whose typed value survives a failed validation, encrypted.

    The page re-rendered with errors carries the value only as a sealed hidden input
    next to the (empty) password input; the next submit unseals it when the password
    input is left blank. A seal that cannot be unsealed (too old, another field's or
    user's) posts SEAL_REFUSED, which SealedSecretField turns into an error.
    """

    def __init__(self, *, field: str, owner: Any, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, render_value=False)
        self.field, self.owner = field, owner

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        html = super().render(name, value, attrs, renderer)
        if not isinstance(value, str) or not value:
            return html
        sealed = secret_seal(field=self.field, owner=self.owner, value=value)
        hidden = format_html(
            '<input type="hidden" name="{}" value="{}">', name + SEALED_SUFFIX, sealed
        )
        note = format_html(
            '<div class="help">{}</div>',
            "Kept from your last submit, encrypted; type a new value to replace it.",
        )
        return format_html("{}{}{}", html, hidden, note)

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        typed = super().value_from_datadict(data, files, name)
        sealed = data.get(name + SEALED_SUFFIX)
        if typed or not sealed:
            return typed
        unsealed = secret_unseal(field=self.field, owner=self.owner, sealed=str(sealed))
        return SEAL_REFUSED if unsealed is None else unsealed


class SealedSecretField(forms.CharField):
    """A write-only secret's field: a refused seal is an error on it, never "left blank"
    (which would keep the stored secret, or ask for one the user did type)."""

    def clean(self, value: Any) -> Any:
        if value is SEAL_REFUSED:
            raise ValidationError(SEAL_REFUSED_MESSAGE, code="seal_refused")
        return super().clean(value)


def inputs_labelled(form: forms.BaseForm) -> None:
    """Give every input its field's label as its accessible name (aria-label).

    A tabular inline shows labels only as column headings, which assistive technology does
    not tie to the inputs; the admin's related-object wrapper hides the real widget inside.
    """
    for name, field in form.fields.items():
        widget: forms.Widget = getattr(field.widget, "widget", None) or field.widget
        label = str(field.label or name.replace("_", " ").capitalize())
        widget.attrs.setdefault("aria-label", label)


class LabelledFormSetMixin:
    """A formset whose rows' inputs, the DELETE box included, all carry their labels."""

    def add_fields(self, form: forms.BaseForm, index: int | None) -> None:
        super().add_fields(form, index)  # type: ignore[misc]
        inputs_labelled(form)


class AdminModelForm(forms.ModelForm):
    """Base of the admin's model forms: every model clean() error is shown.

    A model's clean() may name a field this form does not show (an inline shows a few):
    Django then raises ValueError, a server error that loses what was typed. Such an
    error becomes a non-field error that names the field instead.

    Every input also carries its label as its accessible name: a tabular inline shows the
    labels only as column headings, which a screen reader does not tie to the inputs.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inputs_labelled(self)

    def _update_errors(self, errors: ValidationError) -> None:
        if hasattr(errors, "error_dict"):
            errors = ValidationError(self._errors_shown(errors.error_dict))
        super()._update_errors(errors)  # type: ignore[misc]  # private in django-stubs

    def _errors_shown(self, error_dict: dict[str, list[ValidationError]]) -> dict[str, Any]:
        shown: dict[str, list[Any]] = {}
        for field, errors in error_dict.items():
            if field == NON_FIELD_ERRORS or field in self.fields:
                shown.setdefault(field, []).extend(errors)
                continue
            label = self._field_label(field)
            named = [f"{label}: {message}" for error in errors for message in error.messages]
            shown.setdefault(NON_FIELD_ERRORS, []).extend(named)
        return shown

    def _field_label(self, name: str) -> str:
        try:
            verbose = str(self._meta.model._meta.get_field(name).verbose_name)
        except FieldDoesNotExist:
            verbose = name.replace("_", " ")
        return verbose[:1].upper() + verbose[1:]


class AddedRowForm(AdminModelForm):
    """An inline row the user added is saved even when left at its pre-filled defaults.

    Django skips an extra form that has not changed from its initial values, and the
    page still says "changed successfully". The inlines show no blank extra rows
    (extra = 0), so every new row on the page is one the user added.
    """

    def has_changed(self) -> bool:
        return self.instance._state.adding or super().has_changed()


class WriteOnlySecretsForm(AdminModelForm):
    """Base ModelForm: every EncryptedSecretField becomes a write-only password input.

    ``seal_owner`` (the requesting user's pk) binds the seals of typed values to that user:
    the admin sets it on the form class it makes per request; other views pass it.
    """

    seal_owner: Any = None

    def __init__(self, *args: Any, seal_owner: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if seal_owner is not None:
            self.seal_owner = seal_owner
        for name in secret_field_names(self._meta.model):
            if name not in self.fields:
                continue
            stored = getattr(self.instance, name, None) if self.instance.pk else None
            self.initial[name] = ""  # never hand the stored value to the widget
            label = self.fields[name].label
            self.fields[name] = SealedSecretField(
                required=False,
                strip=False,
                validators=[validate_secret_length],
                label=label,
                widget=SealedPasswordInput(
                    field=f"{self._meta.model._meta.label}.{name}",
                    owner=self.seal_owner,
                    attrs={"autocomplete": "off", "aria-label": label},
                ),
                help_text=f"Currently {secret_status(stored)}. "
                + ("Leave blank to keep it." if stored else "Write-only: never shown again."),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in secret_field_names(self._meta.model):
            if name in cleaned and cleaned[name] == "":
                # Dropping the key makes construct_instance leave the stored value alone.
                del cleaned[name]
                stored = getattr(self.instance, name, None) if self.instance.pk else None
                if name in REQUIRED_SECRETS and not stored and self.has_changed():
                    self.add_error(name, "This secret is required.")
        return cleaned


class AddedRowSecretsForm(AddedRowForm, WriteOnlySecretsForm):
    """Write-only secrets in an inline row that is saved once added (OAuth clients, API keys)."""


KEEP_SECRETS = "keep_secrets"


class KeepSecretsForm(AdminModelForm):
    """A ModelForm with the admin's "keep the stored secrets" confirmation.

    See services.destinations: a save that moves where secrets go clears them unless
    an admin ticks this box. ``may_keep_secrets`` is set per request by the admin.
    """

    may_keep_secrets = False

    keep_secrets = forms.BooleanField(
        required=False,
        label="Keep the stored secrets for the new host",
        help_text="Admins only. A new scheme, host or port clears the stored secrets that "
        "were sent to the old one; tick to keep them for the new host (recorded in the "
        "audit log). A new path keeps them anyway.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get(KEEP_SECRETS) and not self.may_keep_secrets:
            self.add_error(None, "Only an admin can keep the stored secrets for a new host.")
        return cleaned


class WriteOnlySecretsKeepForm(KeepSecretsForm, WriteOnlySecretsForm):
    """Write-only secrets and the keep-secrets confirmation (OAuth clients, customer auths)."""
