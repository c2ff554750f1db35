"""Celery tasks: thin wrappers that take ids and call one service each.

Celery's autodiscovery imports this package; importing the modules registers their tasks.
"""

from integrations.tasks import alerts, maintenance, probes, readiness, tokens

__all__ = ["alerts", "maintenance", "probes", "readiness", "tokens"]
