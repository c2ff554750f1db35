"""Admin forms whose secret inputs are write-only.

A secret field renders empty, shows only whether a value is set and its short
fingerprint, and a blank submission keeps the stored value.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from integrations.crypto import SecretDecryptionError
from integrations.fields import EncryptedSecretField, validate_secret_length

# Secrets without which the credential cannot work: required when nothing is stored yet.
REQUIRED_SECRETS = {"client_secret", "password", "value"}


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


class WriteOnlySecretsForm(forms.ModelForm):
    """Base ModelForm: every EncryptedSecretField becomes a write-only password input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in secret_field_names(self._meta.model):
            if name not in self.fields:
                continue
            stored = getattr(self.instance, name, None) if self.instance.pk else None
            self.initial[name] = ""  # never hand the stored value to the widget
            self.fields[name] = forms.CharField(
                required=False,
                strip=False,
                validators=[validate_secret_length],
                label=self.fields[name].label,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
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


KEEP_SECRETS = "keep_secrets"


class KeepSecretsForm(forms.ModelForm):
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
