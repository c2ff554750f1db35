"""manage.py revoke_api_token <prefix>"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ApiToken
from accounts.tokens import PREFIX_CHARS, TOKEN_PREFIX, api_token_revoke


class Command(BaseCommand):
    help = "Revoke an API token by its prefix (the 8 characters after 'pt_')."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        prefix = options["prefix"].removeprefix(TOKEN_PREFIX)[:PREFIX_CHARS]
        token = ApiToken.objects.filter(prefix=prefix).first()
        if token is None:
            raise CommandError(f"No API token with prefix {prefix!r}.")
        if api_token_revoke(token=token, actor_label="manage.py revoke_api_token"):
            self.stdout.write(f"Revoked API token {token}.")
        else:
            self.stdout.write(f"API token {token} was already revoked.")
