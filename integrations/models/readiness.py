"""Readiness reports: whether a customer environment meets the integration guide."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from integrations.choices import ReadinessVerdict
from integrations.models.customers import Environment


class ReadinessReport(models.Model):
    """One run of every readiness check against an environment, kept as it was reported.

    ``results`` is a list of ``{check, title, verdict, target, evidence, fix, message}``;
    evidence is redacted before it is stored (no secret, no token).
    """

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="readiness_reports"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150, help_text="Username at the time, or 'system'.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    pass_count = models.PositiveIntegerField(default=0)
    warn_count = models.PositiveIntegerField(default=0)
    fail_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    not_applicable_count = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["environment", "-started_at"], name="readiness_env_started"),
        ]

    def __str__(self) -> str:
        return f"readiness of {self.environment} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_ready(self) -> bool:
        """No check failed or crashed (warnings do not block going live)."""
        return self.fail_count == 0 and self.error_count == 0

    def summary(self) -> dict[str, int]:
        """Results per verdict, keyed by the verdict's value ("pass", "warn", ...)."""
        return {
            ReadinessVerdict.PASS.value: self.pass_count,
            ReadinessVerdict.WARN.value: self.warn_count,
            ReadinessVerdict.FAIL.value: self.fail_count,
            ReadinessVerdict.ERROR.value: self.error_count,
            ReadinessVerdict.NOT_APPLICABLE.value: self.not_applicable_count,
        }

    def summary_text(self) -> str:
        """The summary for a message: "12 pass, 1 warn, 0 fail, 0 error, 2 not_applicable"."""
        return ", ".join(f"{count} {verdict}" for verdict, count in self.summary().items())
