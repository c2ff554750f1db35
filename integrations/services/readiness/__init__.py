"""Integration readiness: does a customer environment meet the integration guide?

``readiness_run`` runs every check (runner.CHECKS) against an environment and stores a
ReadinessReport; ``readiness_compare`` says what changed since the previous run;
``readiness_json`` and ``readiness_markdown`` are the redacted exports for the customer.
"""

from integrations.services.readiness.exports import readiness_json, readiness_markdown
from integrations.services.readiness.report import (
    readiness_compare,
    readiness_previous,
    readiness_run,
)

__all__ = [
    "readiness_compare",
    "readiness_json",
    "readiness_markdown",
    "readiness_previous",
    "readiness_run",
]
