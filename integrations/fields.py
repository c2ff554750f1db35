"""Model fields for secrets encrypted at rest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from integrations.secrets import Secret


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
