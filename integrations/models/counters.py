"""Ever-growing probe counters per endpoint: what /metrics exposes as Prometheus counters.

Hourly rollups answer "how many in this window" and may be pruned or rewritten from raw
results; Prometheus' rate(), increase() and histogram_quantile() instead need totals that
only ever grow. These rows are incremented in the transaction that records probe results
and missed slots (services.rollups), and nothing else writes them.
"""

from __future__ import annotations

from django.db import models

from integrations.models.endpoints import Endpoint


class ProbeCounter(models.Model):
    """Every probe and missed slot of one endpoint since it was created, summed.

    The columns match HourlyRollup's additive ones (``bucket_N`` counts latencies at or
    under LATENCY_BUCKETS_MS[N], ``bucket_inf`` the rest), plus the summed schedule lag.
    """

    endpoint = models.OneToOneField(
        Endpoint, on_delete=models.CASCADE, primary_key=True, related_name="probe_counter"
    )
    count = models.PositiveBigIntegerField(default=0, help_text="Probes run (not missed).")
    successes = models.PositiveBigIntegerField(default=0)
    fail_dns = models.PositiveBigIntegerField(default=0)
    fail_connect = models.PositiveBigIntegerField(default=0)
    fail_tls = models.PositiveBigIntegerField(default=0)
    fail_timeout = models.PositiveBigIntegerField(default=0)
    fail_blocked = models.PositiveBigIntegerField(default=0)
    fail_too_large = models.PositiveBigIntegerField(default=0)
    fail_malformed = models.PositiveBigIntegerField(default=0)
    fail_auth = models.PositiveBigIntegerField(default=0)
    fail_http_4xx = models.PositiveBigIntegerField(default=0)
    fail_http_5xx = models.PositiveBigIntegerField(default=0)
    fail_assertion = models.PositiveBigIntegerField(default=0)
    fail_other = models.PositiveBigIntegerField(default=0)
    missed = models.PositiveBigIntegerField(default=0, help_text="Due slots never probed.")
    latency_count = models.PositiveBigIntegerField(default=0)
    latency_sum_ms = models.FloatField(default=0)
    lag_sum_ms = models.FloatField(default=0, help_text="Probe starts minus due times, summed.")
    bucket_0 = models.PositiveBigIntegerField(default=0)
    bucket_1 = models.PositiveBigIntegerField(default=0)
    bucket_2 = models.PositiveBigIntegerField(default=0)
    bucket_3 = models.PositiveBigIntegerField(default=0)
    bucket_4 = models.PositiveBigIntegerField(default=0)
    bucket_5 = models.PositiveBigIntegerField(default=0)
    bucket_6 = models.PositiveBigIntegerField(default=0)
    bucket_7 = models.PositiveBigIntegerField(default=0)
    bucket_8 = models.PositiveBigIntegerField(default=0)
    bucket_9 = models.PositiveBigIntegerField(default=0)
    bucket_10 = models.PositiveBigIntegerField(default=0)
    bucket_inf = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"probe counters of endpoint {self.endpoint_id}"
