"""Re-encrypt every stored secret under the first key of PORTAL_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from integrations.choices import AuditAction
from integrations.crypto import SecretDecryptionError
from integrations.services.audit import audit_record
from integrations.services.secrets import secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret under the newest key (the first in "
        "PORTAL_ENCRYPTION_KEYS). Afterwards the older keys can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = secrets_rotate()
        except SecretDecryptionError as error:
            raise CommandError(f"{error} Nothing was changed.") from error
        audit_record(action=AuditAction.ROTATE_KEYS, detail={"rotated": report.rotated})
        for name, count in report.per_field.items():
            self.stdout.write(f"{name}: {count}")
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {report.rotated} secrets."))
