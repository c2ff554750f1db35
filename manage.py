#!/usr/bin/env python
"""Django's command-line utility for the integration portal."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

# Any deployment sets at least one of these (portal/settings.py also reads each as
# NAME_FILE). With none set, manage.py runs on a fresh clone: the embedded defaults.
DEPLOYMENT_VARIABLES = (
    "DEBUG",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "SECRET_KEY",
    "PORTAL_ENCRYPTION_KEYS",
    "DJANGO_SETTINGS_MODULE",
)
EMBEDDED_NOTICE = (
    "manage.py: no deployment variable set, using the embedded defaults "
    "(DEBUG on; SQLite, broker and generated keys under var/)"
)


def embedded_defaults_apply(environ: Mapping[str, str]) -> bool:
    """True when nothing says this is a deployment; a variable set empty still counts."""
    return not any(name in environ or f"{name}_FILE" in environ for name in DEPLOYMENT_VARIABLES)


def main() -> None:
    if embedded_defaults_apply(os.environ):
        os.environ["DEBUG"] = "true"
        print(EMBEDDED_NOTICE, file=sys.stderr)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
