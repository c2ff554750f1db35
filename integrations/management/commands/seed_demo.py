"""Create the demo admin login and the demo customer pointing at the sandbox (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from integrations.services.demo import demo_admin_ensure, demo_customer_ensure


class Command(BaseCommand):
    help = "Create the demo admin login and a demo customer whose UAT environment is the sandbox."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sandbox-url", default=settings.SANDBOX_URL)

    def handle(self, *args: Any, **options: Any) -> None:
        login = demo_admin_ensure()
        customer = demo_customer_ensure(sandbox_url=options["sandbox_url"])
        self.stdout.write(f"Demo customer: {customer.name} (UAT at {options['sandbox_url']})")
        # Printing the demo password is the point of this command: it is a local demo login.
        self.stdout.write(self.style.SUCCESS(f"Admin login: {login.username} / {login.password}"))
