"""The scheduled readiness report: one task per enabled environment."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.models import Endpoint, Environment, ReadinessReport
from integrations.tasks.readiness import readiness_run_due_task
from portal.celery import app

pytestmark = pytest.mark.django_db


def test_the_daily_tick_queues_one_report_per_enabled_environment(
    demo_endpoint: Endpoint, sandbox: Any
) -> None:
    Environment.objects.create(
        customer=demo_endpoint.environment.customer,
        name="Off",
        slug="off",
        base_url="https://off.example",
        is_enabled=False,
    )
    app.conf.task_always_eager = True  # run the queued report tasks here, in this process
    try:
        assert readiness_run_due_task() == 1
    finally:
        app.conf.task_always_eager = False
    assert ReadinessReport.objects.filter(environment=demo_endpoint.environment).count() == 1
    assert ReadinessReport.objects.count() == 1
