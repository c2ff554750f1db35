"""Run a readiness report for one environment and print its export."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.models import Environment
from integrations.services.readiness import readiness_json, readiness_markdown, readiness_run


class Command(BaseCommand):
    help = (
        "Check an environment against the integration guide and print the report. "
        "ENVIRONMENT is an id or customer-slug/environment-slug."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("environment", help="an id, or customer-slug/environment-slug")
        parser.add_argument("--format", choices=["json", "markdown"], default="markdown")

    def handle(self, *args: Any, **options: Any) -> None:
        environment = environment_lookup(options["environment"])
        report = readiness_run(environment=environment, actor_label="manage.py readiness_report")
        if options["format"] == "json":
            self.stdout.write(json.dumps(readiness_json(report), indent=2))
        else:
            self.stdout.write(readiness_markdown(report))


def environment_lookup(reference: str) -> Environment:
    """The environment named by an id or ``customer-slug/environment-slug``."""
    environments = Environment.objects.select_related("customer")
    customer_slug, slash, environment_slug = reference.partition("/")
    try:
        if slash:
            return environments.get(customer__slug=customer_slug, slug=environment_slug)
        if reference.isdigit():
            return environments.get(pk=int(reference))
    except Environment.DoesNotExist:
        pass
    raise CommandError(
        f"No environment {reference!r}: give an id or customer-slug/environment-slug."
    )
