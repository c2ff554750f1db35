"""Test calls: who ran which endpoint, and exactly what went over the wire (redacted)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from integrations.models.credentials import TestUser
from integrations.models.endpoints import Endpoint


class TestCall(models.Model):
    """One test call, stored redacted: request, response, auth steps and a curl export."""

    __test__ = False  # not a pytest test class, despite the name

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="test_calls")
    test_user = models.ForeignKey(
        TestUser, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ok = models.BooleanField(default=False)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.TextField(blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    request = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True)
    auth_steps = models.JSONField(default=list, blank=True)
    curl = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="testcall_endpoint_recent")
        ]

    def __str__(self) -> str:
        outcome = self.status if self.status is not None else self.error_code
        return f"test call #{self.pk} of {self.endpoint.name}: {outcome}"
