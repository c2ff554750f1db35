"""Readiness reports as documents to send to the customer: JSON and Markdown.

The stored results are already redacted; the exports pass them through the redaction
once more with the environment's current secrets, in case a credential was rotated
to a value that an old report happened to contain.
"""

from __future__ import annotations

import json
from typing import Any

from integrations.choices import ReadinessVerdict
from integrations.models import ReadinessReport
from integrations.services.readiness.context import readiness_context
from integrations.services.readiness.evidence import evidence_redacted

_ICONS = {
    ReadinessVerdict.PASS: "PASS",
    ReadinessVerdict.WARN: "WARN",
    ReadinessVerdict.FAIL: "FAIL",
    ReadinessVerdict.ERROR: "ERROR",
    ReadinessVerdict.NOT_APPLICABLE: "n/a",
}


def readiness_json(report: ReadinessReport) -> dict[str, Any]:
    """The report as a JSON-able document: environment, summary and every result."""
    environment = report.environment
    document = {
        "report": report.pk,
        "customer": environment.customer.name,
        "environment": {
            "id": environment.pk,
            "name": environment.name,
            "kind": environment.kind,
            "base_url": environment.base_url,
        },
        "run_by": report.actor_label,
        "started_at": report.started_at.isoformat(),
        "finished_at": report.finished_at.isoformat(),
        "ready": report.is_ready,
        "summary": {str(verdict): count for verdict, count in report.summary().items()},
        "results": report.results,
    }
    secrets = readiness_context(environment=environment).secrets
    redacted: dict[str, Any] = evidence_redacted(document, secrets=secrets)
    return redacted


def readiness_markdown(report: ReadinessReport) -> str:
    """The report as Markdown: a summary table, then what to fix with the evidence."""
    document = readiness_json(report)
    lines = _heading(document)
    lines += ["| Verdict | Check | Target | Finding |", "| --- | --- | --- | --- |"]
    for result in document["results"]:
        cells = [
            _ICONS.get(result["verdict"], result["verdict"]),
            result["title"],
            result["target"],
            result["message"],
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    findings = [r for r in document["results"] if r["verdict"] not in _QUIET]
    if findings:
        lines += ["", "## What to fix", ""]
        for result in findings:
            lines += _finding(result)
    return "\n".join(lines) + "\n"


_QUIET = {ReadinessVerdict.PASS, ReadinessVerdict.NOT_APPLICABLE}


def _heading(document: dict[str, Any]) -> list[str]:
    environment = document["environment"]
    summary = document["summary"]
    counts = ", ".join(f"{count} {_ICONS[ReadinessVerdict(v)]}" for v, count in summary.items())
    state = "ready" if document["ready"] else "not ready"
    return [
        f"# Integration readiness: {document['customer']} / {environment['name']}",
        "",
        f"- Environment: {environment['name']} ({environment['kind']}), {environment['base_url']}",
        f"- Run: {document['started_at']} by {document['run_by']} (report {document['report']})",
        f"- Result: **{state}** ({counts})",
        "",
    ]


def _finding(result: dict[str, Any]) -> list[str]:
    target = f" ({result['target']})" if result["target"] else ""
    lines = [
        f"### {_ICONS.get(result['verdict'], result['verdict'])}: {result['title']}{target}",
        "",
        result["message"],
        "",
    ]
    if result["fix"]:
        lines += [f"**Fix:** {result['fix']}", ""]
    if result["evidence"]:
        lines += ["```json", json.dumps(result["evidence"], indent=2), "```", ""]
    return lines


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
