"""What a lock-out leaves behind: one audit event and one warning when a failure brings a
counter to its limit, and an info line for each attempt refused while it lasts.

Refused attempts get no audit event each: they cost the client nothing (no password is
checked), so a row apiece would let a spray fill the audit table. Neither ever holds the
password or the token's secret half: only the name typed or the token's public prefix.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

from accounts.throttle import scope_limit
from integrations.choices import AuditAction
from integrations.services.audit import audit_record

logger = logging.getLogger("accounts.lockouts")


def lockouts_record(*, scopes: list[str], label: str, ip: str, request: Any = None) -> None:
    """Audit and log each scope that ``label``'s failure from ``ip`` just locked."""
    window_s = settings.LOGIN_FAILURE_WINDOW_S
    for scope in scopes:
        limit = scope_limit(scope)
        # %r: a typed name may hold a newline meant to forge the next log line.
        logger.warning(
            "login lock-out: %s limit of %d failures in %d s reached by %r from %s",
            scope,
            limit,
            window_s,
            label,
            ip,
        )
        audit_record(
            action=AuditAction.LOGIN_FAILED,
            actor_label=label[:150],
            request=request,
            detail={
                "reason": "locked_out",
                "scope": scope,
                "limit": limit,
                "window_s": window_s,
                "address": ip,
            },
        )


def refusal_log(*, scope: str, label: str, ip: str) -> None:
    logger.info("login refused while locked out (%s limit): %r from %s", scope, label, ip)
