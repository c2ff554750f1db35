"""The admin shows every delivery attempt of an alert, read-only, under its outbox row."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import AlertOutbox, Endpoint
from integrations.services.alerts import alerts_deliver
from tests.integrations.alert_receiver import AlertReceiver
from tests.integrations.test_services_alerts import hook_at, outbox_rows

pytestmark = pytest.mark.django_db


def test_outbox_and_transition_pages_list_each_attempt_and_its_outcome_read_only(
    demo_endpoint: Endpoint, settings: Any, admin_client: Client
) -> None:
    hook = AlertReceiver(status=503)
    try:
        hook_at(settings, hook.url, hook.hostport)
        [row] = outbox_rows(demo_endpoint, 1)
        alerts_deliver()
        AlertOutbox.objects.update(next_attempt_at=row.next_attempt_at)  # retry now
        hook.status = 200
        alerts_deliver()
    finally:
        hook.stop()
    page = admin_client.get(reverse("admin:integrations_alertoutbox_change", args=[row.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "Alert delivery attempts" in text
    assert "Failed" in text and "Delivered" in text and "503" in text
    assert 'name="deliveries-0-outcome"' not in text  # shown, never an input
    page = admin_client.get(
        reverse("admin:integrations_healthtransition_change", args=[row.transition_id])
    )
    text = page.content.decode()
    assert page.status_code == 200 and "Alert outbox" in text and "Sent" in text
