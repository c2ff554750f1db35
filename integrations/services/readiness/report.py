"""Readiness reports: run and store one, and say what changed since the previous one."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from integrations import clock
from integrations.choices import AuditAction, ReadinessVerdict
from integrations.models import Environment, ReadinessReport
from integrations.services.audit import audit_record
from integrations.services.readiness.runner import checks_run

logger = logging.getLogger(__name__)


def readiness_run(
    *, environment: Environment, actor: Any = None, actor_label: str = ""
) -> ReadinessReport:
    """Run every readiness check against ``environment``, store the report and audit it.

    ``actor_label`` names a non-person runner ("schedule", "command") when there is no user.
    """
    started = clock.now()
    results = checks_run(environment=environment)
    counts = Counter(result["verdict"] for result in results)
    is_user = getattr(actor, "is_authenticated", False)
    report = ReadinessReport.objects.create(
        environment=environment,
        actor=actor if is_user else None,
        actor_label=actor.get_username() if is_user else (actor_label or "system"),
        started_at=started,
        finished_at=clock.now(),
        pass_count=counts[ReadinessVerdict.PASS],
        warn_count=counts[ReadinessVerdict.WARN],
        fail_count=counts[ReadinessVerdict.FAIL],
        error_count=counts[ReadinessVerdict.ERROR],
        not_applicable_count=counts[ReadinessVerdict.NOT_APPLICABLE],
        results=results,
    )
    audit_record(
        action=AuditAction.READINESS,
        actor=actor,
        actor_label="" if is_user else report.actor_label,
        obj=environment,
        detail={"readiness_report": report.pk, "summary": report.summary()},
    )
    logger.info(
        "readiness report %s of environment %s: %s",
        report.pk,
        environment.pk,
        report.summary(),
    )
    return report


def readiness_previous(*, report: ReadinessReport) -> ReadinessReport | None:
    """The run of the same environment just before ``report``."""
    earlier = ReadinessReport.objects.filter(environment_id=report.environment_id).exclude(
        pk=report.pk
    )
    earlier = earlier.filter(started_at__lte=report.started_at).order_by("-started_at", "-id")
    return earlier.first()


def readiness_compare(
    *, report: ReadinessReport, previous: ReadinessReport | None
) -> list[dict[str, Any]]:
    """What changed since ``previous``: verdict changes, and checks new or gone, per target.

    Each change is ``{check, target, title, change, before, after}`` where ``change`` is
    "changed", "new" or "removed" and before/after are verdicts (None when absent).
    """
    if previous is None:
        return []
    now, then = _by_key(report.results), _by_key(previous.results)
    changes = []
    for key in [*now, *(key for key in then if key not in now)]:
        before, after = then.get(key), now.get(key)
        change = _change(before, after)
        if change is None:
            continue
        title = (after or before or {}).get("title", "")
        changes.append(
            {
                "check": key[0],
                "target": key[1],
                "title": title,
                "change": change,
                "before": before["verdict"] if before else None,
                "after": after["verdict"] if after else None,
            }
        )
    return changes


def _by_key(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(result["check"], result.get("target", "")): result for result in results}


def _change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str | None:
    if before is None:
        return "new"
    if after is None:
        return "removed"
    return "changed" if before["verdict"] != after["verdict"] else None
