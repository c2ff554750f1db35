"""System checks for misconfiguration that Django would not notice on its own."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from integrations import crypto


@checks.register(checks.Tags.security)
def check_encryption_keys(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        crypto.encrypt("check")
    except Exception as error:
        return [checks.Error(str(error), id="integrations.E001")]
    return []


@checks.register(checks.Tags.security)
def check_outbound_allowlist(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    if not settings.DEBUG and settings.OUTBOUND_ALLOWLIST:
        return [
            checks.Warning(
                "PORTAL_OUTBOUND_ALLOWLIST is set in production: those host:port pairs may "
                "reach non-public addresses.",
                id="integrations.W001",
            )
        ]
    return []
