"""Model fields for secrets encrypted at rest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from integrations.crypto import SecretDecryptionError
from integrations.outbound.secret_forms import MIN_SECRET_LENGTH
from integrations.secrets import Secret


def validate_secret_length(value: Secret | str | None) -> None:
    """Refuse a secret shorter than ``MIN_SECRET_LENGTH``: redaction could neither hide
    its encodings without mangling ordinary text (``json``) nor safely leave them."""
    if value is None or value == "":
        return  # "not set" is each form's own question
    try:
        text = value.reveal() if isinstance(value, Secret) else str(value)
    except SecretDecryptionError:
        return  # stored under a retired key: the forms already ask for it again
    if len(text) < MIN_SECRET_LENGTH:
        raise ValidationError(
            f"A secret must be at least {MIN_SECRET_LENGTH} characters long: paste the "
            "whole value the customer issued. A shorter one cannot be told apart from "
            "ordinary text, so it could not be reliably hidden where it is shown.",
            code="secret_too_short",
        )


class _SecretAttribute(DeferredAttribute):
    """Wraps a plain string assigned to the attribute into a ``Secret`` at once.

    So an instance holds a ``Secret`` whether it was loaded or just assigned,
    and no code path sees a bare secret string on a model.
    """

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = self.field.to_python(value)


if TYPE_CHECKING:
    # Tell the type checker the attribute holds a Secret, not a str.
    _SecretTextField = models.TextField[Secret | str | None, Secret | None]
else:
    _SecretTextField = models.TextField


class EncryptedSecretField(_SecretTextField):
    """Stores a ``Secret`` as MultiFernet ciphertext.

    Filtering on the value is refused: the ciphertext differs on every write, so a
    lookup could never match and would silently return nothing.
    """

    description = "A secret encrypted at rest"
    descriptor_class = _SecretAttribute
    # Runs in full_clean (and the admin's and API's secret inputs use it too). Not part
    # of the field's migration state. Token cache rows are written by services, which
    # never full_clean them: a customer may issue a short token and it is still kept.
    default_validators = [validate_secret_length]

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Secret | None:
        if value is None or value == "":
            return None
        return Secret(ciphertext=value)

    def to_python(self, value: Any) -> Secret | None:
        if value is None or value == "" or isinstance(value, Secret):
            return value or None
        return Secret(plaintext=str(value))

    def get_prep_value(self, value: Any) -> str | None:
        secret = self.to_python(value)
        return None if secret is None else secret.ciphertext()

    def value_to_string(self, obj: models.Model) -> str:
        # Serialisation (dumpdata, fixtures) carries ciphertext, never plaintext.
        secret = self.value_from_object(obj)
        return "" if secret is None else secret.ciphertext()

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(
            f"Cannot filter on encrypted field {self.model.__name__}.{self.name} "
            f"with '{lookup_name}': the stored value is ciphertext"
        )

    def get_transform(self, lookup_name: str) -> Any:
        raise FieldError(f"Cannot transform encrypted field {self.model.__name__}.{self.name}")
