"""manage.py create_api_token <username> --scope read|write [--expires-days N] [--name NAME]"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.models import TokenScope
from accounts.tokens import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--scope", required=True, choices=TokenScope.values)
        parser.add_argument("--expires-days", type=int, default=None, metavar="N")
        parser.add_argument("--name", default="cli", help="What the token is for.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        days = options["expires_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-days must be at least 1.")
        token, raw = api_token_create(
            user=user,
            name=options["name"],
            scope=options["scope"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
            actor_label="manage.py create_api_token",
        )
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if days else "never expires"
        self.stderr.write(
            f"API token {token.prefix} for {user.get_username()} ({token.scope}, {expiry}). "
            "Store it now: it is not shown again."
        )
        # The token alone on stdout, so a script can capture it.
        self.stdout.write(raw)
