"""What a readiness check reports, and how checks are declared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from integrations.choices import ReadinessVerdict

if TYPE_CHECKING:
    from integrations.services.readiness.context import ReadinessContext

Verdict = ReadinessVerdict


@dataclass
class CheckResult:
    """The verdict of one check on one target (a customer auth, an endpoint, a step).

    ``evidence`` may hold live objects (exchanges, decoded claims) until the run ends;
    the runner redacts it into JSON with every secret and token the run has seen.
    """

    check: str
    title: str
    verdict: ReadinessVerdict
    target: str = ""
    message: str = ""
    fix: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """A readiness check: an id, a title, the customer's fix, and what runs it.

    ``run`` returns one result per target; ``result`` builds them with the check's
    id, title and (for anything but a pass) its fix filled in. ``named_fix`` words the
    fix in the target's configured names (paths, fields, headers); ``fix`` is the
    guide's wording, for a result with no target.
    """

    id: str
    title: str
    fix: str
    run: Callable[[Check, ReadinessContext], list[CheckResult]]
    named_fix: Callable[[Any], str] | None = None

    def named(self, result: CheckResult, subject: Any) -> CheckResult:
        """``result`` with the guide's fix replaced by one in ``subject``'s names."""
        if self.named_fix is not None and result.fix == self.fix:
            result.fix = self.named_fix(subject)
        return result

    def result(
        self,
        verdict: ReadinessVerdict,
        *,
        target: str = "",
        message: str = "",
        fix: str | None = None,
        evidence: dict[str, Any] | None = None,
    ) -> CheckResult:
        shown_fix = "" if verdict in (Verdict.PASS, Verdict.NOT_APPLICABLE) else (fix or self.fix)
        return CheckResult(
            check=self.id,
            title=self.title,
            verdict=verdict,
            target=target,
            message=message,
            fix=shown_fix,
            evidence=evidence or {},
        )
