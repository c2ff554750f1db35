"""Services over stored secrets: key rotation."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.db import models, transaction

from integrations import crypto
from integrations.fields import EncryptedSecretField
from integrations.secrets import Secret


@dataclass
class RotationReport:
    rotated: int = 0
    per_field: dict[str, int] = field(default_factory=dict)


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) pair that stores an encrypted secret."""
    return [
        (model, f.name)
        for model in apps.get_models()
        for f in model._meta.fields
        if isinstance(f, EncryptedSecretField)
    ]


def _rotate_field(model: type[models.Model], name: str) -> int:
    rows = model._default_manager.select_for_update().exclude(**{f"{name}__isnull": True})
    count = 0
    for pk, secret in rows.values_list("pk", name).iterator(chunk_size=500):
        try:
            fresh = crypto.reencrypt(secret.ciphertext())
        except crypto.SecretDecryptionError:
            raise crypto.SecretDecryptionError(f"{model._meta.label}.{name} of row {pk}") from None
        model._default_manager.filter(pk=pk).update(**{name: Secret(ciphertext=fresh)})
        count += 1
    return count


def secrets_rotate() -> RotationReport:
    """Re-encrypt every stored secret under the newest key, all or nothing."""
    report = RotationReport()
    with transaction.atomic():
        for model, name in encrypted_fields():
            count = _rotate_field(model, name)
            report.per_field[f"{model._meta.label}.{name}"] = count
            report.rotated += count
    return report
