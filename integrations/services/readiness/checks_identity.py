"""Readiness checks of the customer identifier: unique, consistent and opaque.

The guide: the identifier is "the only piece of data ASAPP uses to identify users";
it must be unique per customer, stay the same when the customer returns, and carry
no personal data ("hashed, encoded and/or encrypted so that ... it is of no value").
The identifier is the configured JWT claim (``sub`` by default), else the token or
cookie itself; see context.identity_of.
"""

from __future__ import annotations

from typing import Any

from integrations.choices import CustomerAuthMode
from integrations.models import CustomerAuth
from integrations.services.readiness.checks_auth import (
    first_login,
    not_checked,
    per_customer_auth,
)
from integrations.services.readiness.context import Login, ReadinessContext
from integrations.services.readiness.evidence import claims_evidence
from integrations.services.readiness.pii import decoded_layers, pii_find, pii_in_claims
from integrations.services.readiness.results import Check, CheckResult, Verdict

# --- identity.unique -----------------------------------------------------------------


def unique_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_customer_auth(check, ctx, _unique_judge)


def _unique_judge(check: Check, ctx: ReadinessContext, auth: CustomerAuth) -> CheckResult:
    users = ctx.test_users(auth)
    if len(users) < 2:
        return check.result(
            Verdict.WARN,
            target=auth.name,
            message=f"{len(users)} active test user(s): uniqueness needs two to compare.",
            fix="Provide a second test user so uniqueness can be shown.",
        )
    logins = [ctx.login(user) for user in users]
    missing = next((login for login in logins if _no_identity(login)), None)
    if missing is not None:
        return _identity_missing(check, auth, missing)
    owners: dict[str, list[str]] = {}
    for login, user in zip(logins, users, strict=True):
        owners.setdefault(_identity_value(login), []).append(user.label)
    evidence = {"identities": [_identity_entry(login) for login in logins]}
    shared = [labels for labels in owners.values() if len(labels) > 1]
    if shared:
        message = f"Different test users got the same identifier: {', '.join(shared[0])}."
        return check.result(Verdict.FAIL, target=auth.name, message=message, evidence=evidence)
    message = f"{len(users)} test users got {len(owners)} different identifiers."
    return check.result(Verdict.PASS, target=auth.name, message=message, evidence=evidence)


def _identity_entry(login: Login) -> dict[str, Any]:
    identity = login.identity
    assert identity is not None and login.user is not None
    return {"user": login.user.label, "source": identity.source, "identity": identity.shown()}


def _no_identity(login: Login) -> bool:
    return login.identity is None or not login.identity.value


def _identity_value(login: Login) -> str:
    assert login.identity is not None
    return login.identity.value


def _identity_missing(check: Check, auth: CustomerAuth, login: Login) -> CheckResult:
    label = login.user.label if login.user else "?"
    if login.error is not None:
        return not_checked(check, auth, login.error, label)
    source = login.identity.source if login.identity else "the identifier"
    return check.result(
        Verdict.FAIL,
        target=auth.name,
        message=f"The JWT of {label} has no {source}.",
        fix=f"Put the customer identifier in the JWT's {source}.",
    )


# --- identity.consistent -------------------------------------------------------------


def consistent_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_customer_auth(check, ctx, _consistent_judge)


def _consistent_judge(check: Check, ctx: ReadinessContext, auth: CustomerAuth) -> CheckResult:
    first = first_login(check, ctx, auth)
    if isinstance(first, CheckResult):
        return first
    assert first.user is not None
    second = ctx.login(first.user, attempt=1)
    for login in (first, second):
        if _no_identity(login):
            return _identity_missing(check, auth, login)
    same = _identity_value(first) == _identity_value(second)
    assert first.fetched is not None and second.fetched is not None
    token_changed = first.fetched.value != second.fetched.value
    evidence = {
        "logins": [_identity_entry(first), _identity_entry(second)],
        "token_changed": token_changed,
    }
    if not same:
        message = f"Two logins of {first.user.label} gave two different identifiers."
        return check.result(Verdict.FAIL, target=auth.name, message=message, evidence=evidence)
    detail = " although the token itself changed" if token_changed else ""
    message = f"Two logins of {first.user.label} gave the same identifier{detail}."
    return check.result(Verdict.PASS, target=auth.name, message=message, evidence=evidence)


# --- identity.opaque -----------------------------------------------------------------


def opaque_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    return per_customer_auth(check, ctx, _opaque_judge)


def _opaque_judge(check: Check, ctx: ReadinessContext, auth: CustomerAuth) -> CheckResult:
    users = ctx.test_users(auth)
    first = first_login(check, ctx, auth)
    if isinstance(first, CheckResult):
        return first
    entries = [_pii_entry(auth, ctx.login(user)) for user in users if ctx.login(user).ok]
    leaking = [entry for entry in entries if entry["found"]]
    evidence = {"scanned": entries}
    if leaking:
        kinds = sorted({kind for entry in leaking for kind in _found_kinds(entry["found"])})
        message = f"The identifier carries personal data ({', '.join(kinds)})."
        return check.result(Verdict.FAIL, target=auth.name, message=message, evidence=evidence)
    message = f"No personal data found in the identifiers of {len(entries)} test user(s)."
    return check.result(Verdict.PASS, target=auth.name, message=message, evidence=evidence)


def _pii_entry(auth: CustomerAuth, login: Login) -> dict[str, Any]:
    """Where personal data shows: the identifier, each JWT claim, the token or cookie."""
    identity, user = login.identity, login.user
    assert identity is not None and user is not None and login.fetched is not None
    token = login.fetched.value
    where: dict[str, Any] = {}
    if identity.value and (kinds := _kinds(identity.value, user.username)):
        where["identifier"] = kinds
    claims = _claims_findings(identity.jwt.claims, user.username) if identity.jwt else {}
    if claims:
        where["claims"] = claims
    place = "cookie" if auth.mode == CustomerAuthMode.COOKIE else "token"
    if kinds := _kinds(token, user.username):
        where[place] = kinds
    entry: dict[str, Any] = {"user": user.label, "identity": identity.shown(), "found": where}
    if identity.jwt is not None:
        entry["jwt"] = claims_evidence(identity.jwt, identity_claim=auth.identity_claim)
    return entry


def _found_kinds(where: dict[str, Any]) -> set[str]:
    kinds: set[str] = set()
    for found in where.values():
        for item in found.values() if isinstance(found, dict) else [found]:
            kinds.update(item)
    return kinds


def _claims_findings(claims: dict[str, Any], username: str) -> dict[str, list[str]]:
    findings = pii_in_claims(claims)
    for key, value in claims.items():
        if _has_username(str(value), username):
            findings[key] = sorted({*findings.get(key, []), "username"})
    return findings


def _kinds(text: str, username: str) -> list[str]:
    kinds = pii_find(text)
    if _has_username(text, username):
        kinds.add("username")
    return sorted(kinds)


def _has_username(text: str, username: str) -> bool:
    """The test user's login name in any decoded layer (too short a name tells nothing)."""
    if len(username) < 3:
        return False
    wanted = username.lower()
    return any(wanted in layer.lower() for layer in decoded_layers(text))
