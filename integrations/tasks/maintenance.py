"""Maintenance tasks: pruning raw results and reconciling rollups."""

from __future__ import annotations

from celery import shared_task

from integrations.services.retention import probe_results_prune, rollups_reconcile


@shared_task(acks_late=True)
def probe_results_prune_task() -> int:
    return probe_results_prune()


@shared_task(acks_late=True)
def rollups_reconcile_task() -> int:
    return rollups_reconcile()
