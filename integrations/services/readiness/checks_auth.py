"""Readiness checks of customer authentication, and helpers the identity checks share.

The guide: customer_authenticate answers a JWT (or cookie) with ``issued_at`` and
``expires_in``; the expiry is "short, but should also allow for a good user
experience without the customer having to authenticate multiple times".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings

from integrations.choices import CustomerAuthMode
from integrations.models import CustomerAuth
from integrations.outbound import MalformedResponse
from integrations.services.exchanges import header_values
from integrations.services.readiness.context import Login, ReadinessContext
from integrations.services.readiness.evidence import (
    error_evidence,
    error_message,
)
from integrations.services.readiness.fixes import users_fix
from integrations.services.readiness.results import Check, CheckResult, Verdict

NO_AUTH = "The environment has no customer authentication configured."
AuthJudge = Callable[[Check, ReadinessContext, CustomerAuth], CheckResult]


def per_customer_auth(check: Check, ctx: ReadinessContext, judge: AuthJudge) -> list[CheckResult]:
    """One result per customer auth of the environment (not applicable without any)."""
    auths = ctx.customer_auths()
    if not auths:
        return [check.result(Verdict.NOT_APPLICABLE, message=NO_AUTH)]
    return [check.named(judge(check, ctx, auth), auth) for auth in auths]


def first_login(check: Check, ctx: ReadinessContext, auth: CustomerAuth) -> Login | CheckResult:
    """The first test user's first login, or the result saying why there is none."""
    users = ctx.test_users(auth)
    if not users:
        return _no_users(check, auth)
    login = ctx.login(users[0])
    if login.error is not None:
        return not_checked(check, auth, login.error, users[0].label)
    return login


def _no_users(check: Check, auth: CustomerAuth) -> CheckResult:
    return check.result(
        Verdict.FAIL,
        target=auth.name,
        message="No active test user is configured, so nothing could be checked.",
        fix=users_fix(auth),
    )


def not_checked(check: Check, auth: CustomerAuth, error: Exception, label: str) -> CheckResult:
    return check.result(
        Verdict.FAIL,
        target=auth.name,
        message=f"Not checked: the login of {label} failed ({error_message(error)}).",
        evidence=error_evidence(error),
    )


# --- customer_auth.login -------------------------------------------------------------


def login_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_customer_auth(check, ctx, _login_judge)


def _login_judge(check: Check, ctx: ReadinessContext, auth: CustomerAuth) -> CheckResult:
    users = ctx.test_users(auth)
    if not users:
        return _no_users(check, auth)
    failures, warnings, entries = [], [], []
    for user in users:
        login = ctx.login(user)
        if login.error is not None:
            failures.append(f"{user.label}: {error_message(login.error)}")
            entries.append({"user": user.label, **error_evidence(login.error)})
            continue
        problems, notes = _expiry_fields(auth, login)
        failures += [f"{user.label}: {problem}" for problem in problems]
        warnings += [f"{user.label}: {note}" for note in notes]
        entries.append(_login_entry(login))
    evidence = {"logins": entries}
    if failures:
        return check.result(
            Verdict.FAIL, target=auth.name, message="; ".join(failures), evidence=evidence
        )
    if warnings:
        return check.result(
            Verdict.WARN, target=auth.name, message="; ".join(warnings), evidence=evidence
        )
    message = f"{len(users)} test user(s) logged in and got a token with an expiry."
    return check.result(Verdict.PASS, target=auth.name, message=message, evidence=evidence)


def _login_entry(login: Login) -> dict[str, Any]:
    fetched = login.fetched
    assert fetched is not None and login.user is not None
    return {
        "user": login.user.label,
        "issued_at": fetched.issued_at,
        "expires_at": fetched.expires_at,
        "lifetime_s": round((fetched.expires_at - fetched.issued_at).total_seconds()),
        "exchange": fetched.exchange,
    }


def _expiry_fields(auth: CustomerAuth, login: Login) -> tuple[list[str], list[str]]:
    """Problems (no expiry at all) and notes (no issued_at, clock skew) of one login."""
    fetched = login.fetched
    assert fetched is not None
    payload = _payload(login)
    problems, notes = [], list(fetched.warnings)
    has_expires_in = payload.get(auth.expires_in_field) not in (None, "")
    if not has_expires_in and not _cookie_expires(auth, login):
        problems.append(f"the answer has no '{auth.expires_in_field}'")
        notes = [note for note in notes if auth.expires_in_field not in note]
    if auth.issued_at_field and payload.get(auth.issued_at_field) in (None, ""):
        notes.append(f"the answer has no '{auth.issued_at_field}' (the guide sends one)")
    return problems, notes


def _payload(login: Login) -> dict[str, Any]:
    assert login.fetched is not None
    try:
        payload = login.fetched.exchange.json()
    except MalformedResponse:
        return {}  # a cookie-mode answer may have no JSON body at all
    return payload if isinstance(payload, dict) else {}


def _cookie_expires(auth: CustomerAuth, login: Login) -> bool:
    if auth.mode != CustomerAuthMode.COOKIE or login.fetched is None:
        return False
    cookies = header_values(login.fetched.exchange, "set-cookie")
    wanted = f"{auth.cookie_name}="
    return any(
        value.strip().startswith(wanted) and re.search(r"(?i);\s*(max-age|expires)=", value)
        for value in cookies
    )


# --- customer_auth.expiry ------------------------------------------------------------


def expiry_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_customer_auth(check, ctx, _expiry_judge)


def _expiry_judge(check: Check, ctx: ReadinessContext, auth: CustomerAuth) -> CheckResult:
    login = first_login(check, ctx, auth)
    if isinstance(login, CheckResult):
        return login
    problems, _ = _expiry_fields(auth, login)
    if problems:
        return check.result(
            Verdict.FAIL, target=auth.name, message=f"No expiry to judge: {problems[0]}."
        )
    fetched = login.fetched
    assert fetched is not None
    lifetime = round((fetched.expires_at - fetched.issued_at).total_seconds())
    low, high = settings.READINESS_MIN_TOKEN_LIFETIME_S, settings.READINESS_MAX_TOKEN_LIFETIME_S
    evidence = {"lifetime_s": lifetime, "min_s": low, "max_s": high}
    verdict, message, fix = Verdict.PASS, f"Tokens live {_duration(lifetime)}.", ""
    if lifetime > high:
        verdict = Verdict.WARN
        message = f"Tokens live {_duration(lifetime)}, longer than {_duration(high)}."
        fix = f"Shorten the token lifetime to at most {_duration(high)}."
    elif lifetime < low:
        verdict = Verdict.WARN
        message = f"Tokens live {_duration(lifetime)}, shorter than {_duration(low)}."
        fix = f"Lengthen the token lifetime to at least {_duration(low)}."
    return check.result(verdict, target=auth.name, message=message, fix=fix, evidence=evidence)


def _duration(seconds: int) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds} s"
