from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API tokens"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Receivers for login throttling, and the OpenAPI description of token auth.
        from accounts import schema, signals  # noqa: F401

        post_migrate.connect(_roles_sync, sender=self)


def _roles_sync(sender: AppConfig, **kwargs: Any) -> None:
    """Keep the role groups' permissions in step with models added by later migrations."""
    from django.contrib.auth.models import Group, Permission

    from accounts.roles import roles_sync

    roles_sync(group_model=Group, permission_model=Permission)
