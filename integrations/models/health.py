"""Health of endpoints: current state, raw probe results, hourly rollups, transitions, alerts.

Dashboards read ``EndpointHealth`` (one row per endpoint) and ``HourlyRollup``; raw
``ProbeResult`` rows are kept a bounded number of days.
"""

from __future__ import annotations

from datetime import datetime

from django.db import models

from integrations.choices import (
    AlertAttemptOutcome,
    AlertChannel,
    AlertStatus,
    ErrorClass,
    HealthState,
    MissedReason,
)
from integrations.models.endpoints import Endpoint

# Upper bounds (ms) of the latency histogram buckets: fixed and log-scale, so rollups
# of any hours and endpoints add up bucket by bucket. The last bucket is open-ended.
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class EndpointHealth(models.Model):
    """Current health and probe schedule of one endpoint (the dashboards' read model)."""

    endpoint = models.OneToOneField(
        Endpoint, on_delete=models.CASCADE, primary_key=True, related_name="health"
    )
    state = models.CharField(max_length=20, choices=HealthState, default=HealthState.UNKNOWN)
    state_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    consecutive_successes = models.PositiveIntegerField(default=0)
    next_probe_at = models.DateTimeField(null=True, blank=True)
    # Set when a dispatcher claims the endpoint; a claim older than the lease is free again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_error_class = models.CharField(max_length=20, choices=ErrorClass, blank=True)
    last_error_code = models.CharField(max_length=100, blank=True)
    last_error_message = models.TextField(blank=True)
    failing_step = models.CharField(max_length=40, blank=True)
    # Two intervals after the last probe (or the schedule's start): past it with no new
    # probe, the endpoint's health is no longer known (a monitoring gap).
    monitoring_gap_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "endpoint health"
        indexes = [models.Index(fields=["next_probe_at"], name="health_next_probe")]

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.get_state_display()}"

    def monitoring_gap(self, now: datetime) -> bool:
        """Whether the endpoint went two intervals without a probe (if it is probed)."""
        return self.monitoring_gap_at is not None and self.monitoring_gap_at < now


class ProbeResult(models.Model):
    """One probe of one endpoint, as run. Raw rows are pruned after the retention period."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="probe_results")
    due_at = models.DateTimeField(help_text="The schedule slot this probe fills.")
    started_at = models.DateTimeField()
    lag_ms = models.FloatField(help_text="Actual start minus due time.")
    ok = models.BooleanField()
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error_class = models.CharField(max_length=20, choices=ErrorClass, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=500, blank=True)
    failing_step = models.CharField(max_length=40, blank=True)
    steps = models.JSONField(default=list, blank=True)
    missed_reason = models.CharField(
        max_length=20,
        choices=MissedReason,
        blank=True,
        help_text="Set when the slot was never probed; such a row is no probe and no failure.",
    )

    class Meta:
        constraints = [
            # A batch redone after a worker died writes the same slot again: ignored.
            models.UniqueConstraint(fields=["endpoint", "due_at"], name="probe_one_per_slot"),
        ]
        indexes = [
            models.Index(fields=["endpoint", "-started_at"], name="probe_endpoint_recent"),
            models.Index(fields=["started_at"], name="probe_started"),
        ]

    def __str__(self) -> str:
        if self.missed_reason:
            return f"missed slot of endpoint {self.endpoint_id} at {self.due_at:%Y-%m-%d %H:%M:%S}"
        return f"probe of endpoint {self.endpoint_id} at {self.started_at:%Y-%m-%d %H:%M:%S}"


class DispatchTick(models.Model):
    """When the dispatcher last claimed due probes: one row, locked by every tick.

    A slot that came due after the previous tick and was overdue by this one was missed
    because no tick ran in between (broker, beat or workers down), not because a
    worker lost it. The lock also serialises two beats' ticks.
    """

    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"dispatch tick at {self.at:%Y-%m-%d %H:%M:%S}"


class HourlyRollup(models.Model):
    """Probe results of one endpoint in one hour, summed so dashboards never scan raw rows.

    Every counter is additive, so rollups are updated with increments as results land
    and can be summed over any hours and endpoints. ``bucket_N`` counts latencies at
    or under LATENCY_BUCKETS_MS[N]; ``bucket_inf`` the rest.
    """

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="rollups")
    hour = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)
    successes = models.PositiveIntegerField(default=0)
    fail_dns = models.PositiveIntegerField(default=0)
    fail_connect = models.PositiveIntegerField(default=0)
    fail_tls = models.PositiveIntegerField(default=0)
    fail_timeout = models.PositiveIntegerField(default=0)
    fail_blocked = models.PositiveIntegerField(default=0)
    fail_too_large = models.PositiveIntegerField(default=0)
    fail_malformed = models.PositiveIntegerField(default=0)
    fail_auth = models.PositiveIntegerField(default=0)
    fail_http_4xx = models.PositiveIntegerField(default=0)
    fail_http_5xx = models.PositiveIntegerField(default=0)
    fail_assertion = models.PositiveIntegerField(default=0)
    fail_other = models.PositiveIntegerField(default=0)
    # Slots of the hour that were never probed (ProbeResult.missed_reason); not in count.
    missed = models.PositiveIntegerField(default=0)
    latency_count = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.FloatField(default=0)
    latency_min_ms = models.FloatField(null=True, blank=True)
    latency_max_ms = models.FloatField(null=True, blank=True)
    bucket_0 = models.PositiveIntegerField(default=0)
    bucket_1 = models.PositiveIntegerField(default=0)
    bucket_2 = models.PositiveIntegerField(default=0)
    bucket_3 = models.PositiveIntegerField(default=0)
    bucket_4 = models.PositiveIntegerField(default=0)
    bucket_5 = models.PositiveIntegerField(default=0)
    bucket_6 = models.PositiveIntegerField(default=0)
    bucket_7 = models.PositiveIntegerField(default=0)
    bucket_8 = models.PositiveIntegerField(default=0)
    bucket_9 = models.PositiveIntegerField(default=0)
    bucket_10 = models.PositiveIntegerField(default=0)
    bucket_inf = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "hour"], name="rollup_one_per_hour"),
        ]
        indexes = [models.Index(fields=["hour"], name="rollup_hour")]

    def __str__(self) -> str:
        return f"rollup of endpoint {self.endpoint_id} at {self.hour:%Y-%m-%d %H:00}"


BUCKET_FIELDS = [f"bucket_{n}" for n in range(len(LATENCY_BUCKETS_MS))] + ["bucket_inf"]
FAILURE_FIELDS = {
    "dns": "fail_dns",
    "connect": "fail_connect",
    "tls": "fail_tls",
    "timeout": "fail_timeout",
    "blocked": "fail_blocked",
    "too_large": "fail_too_large",
    "malformed": "fail_malformed",
    "auth": "fail_auth",
    "http_4xx": "fail_http_4xx",
    "http_5xx": "fail_http_5xx",
    "assertion": "fail_assertion",
    "other": "fail_other",
}


class HealthTransition(models.Model):
    """A change of an endpoint's health state: from, to, when and why."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="transitions")
    at = models.DateTimeField()
    from_state = models.CharField(max_length=20, choices=HealthState)
    to_state = models.CharField(max_length=20, choices=HealthState)
    reason = models.CharField(max_length=500, blank=True)
    failing_step = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["endpoint", "-at"], name="transition_endpoint_recent")]

    def __str__(self) -> str:
        return f"endpoint {self.endpoint_id}: {self.from_state} → {self.to_state}"


class AlertOutbox(models.Model):
    """One alert to deliver for one transition on one channel; written with the transition."""

    transition = models.ForeignKey(
        HealthTransition, on_delete=models.CASCADE, related_name="alerts"
    )
    channel = models.CharField(max_length=10, choices=AlertChannel)
    status = models.CharField(max_length=10, choices=AlertStatus, default=AlertStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0, help_text="Delivery attempts started.")
    next_attempt_at = models.DateTimeField()
    # Set when a worker claims the row to send it, longer than the send timeout: no other
    # worker sends it meanwhile; a claim left by a dead worker is free once it passes.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "alert outbox"
        constraints = [
            models.UniqueConstraint(
                fields=["transition", "channel"], name="alert_once_per_channel"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alert_due")]

    def __str__(self) -> str:
        return f"{self.channel} alert for transition {self.transition_id}: {self.status}"


class AlertDeliveryAttempt(models.Model):
    """One try at delivering one outbox row: when, how it ended, what the receiver said.

    Written in flight when the row is claimed, finished when the send returns, so a send
    cut short by a dead worker still leaves its trace (outcome "lost" once retried).
    """

    outbox = models.ForeignKey(AlertOutbox, on_delete=models.CASCADE, related_name="deliveries")
    number = models.PositiveIntegerField(help_text="1 for the first attempt of the row.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=10, choices=AlertAttemptOutcome, default=AlertAttemptOutcome.IN_FLIGHT
    )
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    error_message = models.CharField(max_length=500, blank=True, help_text="Redacted.")
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["outbox", "number"]
        constraints = [
            models.UniqueConstraint(fields=["outbox", "number"], name="alert_attempt_number"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of alert {self.outbox_id}: {self.outcome}"
