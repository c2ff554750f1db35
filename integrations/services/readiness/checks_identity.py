"""Readiness checks of the customer identifier: unique, consistent and opaque.

The guide: the identifier is "the only piece of data ASAPP uses to identify users";
it must be unique per customer, stay the same when the customer returns, and carry
no personal data ("hashed, encoded and/or encrypted so that ... it is of no value").
The identifier is the configured JWT claim (``sub`` by default), else the token or
cookie itself; see context.identity_of. An opaque session cookie is random per login by
design: for it, the checks compare the customer the customer's API resolves each
session to (sessions.py), or say they do not apply when nothing can tell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from integrations.choices import CustomerAuthMode
from integrations.errors import PortalError
from integrations.models import CustomerAuth
from integrations.outbound import OutboundError
from integrations.services.readiness.checks_auth import (
    first_login,
    not_checked,
    per_customer_auth,
)
from integrations.services.readiness.context import Login, ReadinessContext
from integrations.services.readiness.evidence import (
    claims_evidence,
    error_evidence,
    error_message,
)
from integrations.services.readiness.pii import decoded_layers, pii_find, pii_in_claims
from integrations.services.readiness.results import Check, CheckResult, Verdict
from integrations.services.readiness.sessions import (
    Resolved,
    SessionNotResolvable,
    SessionRefused,
    resolving_endpoint,
    session_resolve,
)

RANDOM_COOKIES = "Session cookies are random per login, so the cookies are not compared"

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
    if _random_sessions(auth, logins[0]):
        return _by_resolution(check, ctx, auth, logins, _unique_resolved)
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
    if _random_sessions(auth, first):
        return _by_resolution(check, ctx, auth, [first, second], _consistent_resolved)
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


# --- cookie sessions: what the customer's API resolves them to ------------------------


def _random_sessions(auth: CustomerAuth, login: Login) -> bool:
    """A cookie that is not a JWT carries no identifier of its own to compare."""
    identity = login.identity
    return auth.mode == CustomerAuthMode.COOKIE and identity is not None and not identity.from_claim


ResolvedJudge = Callable[[Check, CustomerAuth, list[Login], list[Resolved]], CheckResult]


def _by_resolution(
    check: Check,
    ctx: ReadinessContext,
    auth: CustomerAuth,
    logins: list[Login],
    judge: ResolvedJudge,
) -> CheckResult:
    """Resolve every login's session at the customer's API, then let ``judge`` compare."""
    try:
        endpoint = resolving_endpoint(ctx, auth)
        resolved = [session_resolve(ctx, endpoint, login) for login in logins]
    except SessionNotResolvable as reason:
        message = f"{RANDOM_COOKIES}; {reason.message}."
        return check.result(Verdict.NOT_APPLICABLE, target=auth.name, message=message)
    except SessionRefused as refused:
        message = f"Not checked: {refused.message}."
        fix = "Accept the session cookie of a fresh login on the endpoints that need it."
        return check.result(
            Verdict.FAIL,
            target=auth.name,
            message=message,
            fix=fix,
            evidence=error_evidence(refused),
        )
    except (OutboundError, PortalError) as error:
        message = f"Not checked: {error_message(error)}."
        return check.result(
            Verdict.FAIL, target=auth.name, message=message, evidence=error_evidence(error)
        )
    return judge(check, auth, logins, resolved)


def _resolved_entries(logins: list[Login], resolved: list[Resolved]) -> list[dict[str, Any]]:
    return [
        {**_identity_entry(login), "resolved": found.evidence()}
        for login, found in zip(logins, resolved, strict=True)
    ]


def _consistent_resolved(
    check: Check, auth: CustomerAuth, logins: list[Login], resolved: list[Resolved]
) -> CheckResult:
    user = logins[0].user
    assert user is not None
    where, field = resolved[0].endpoint.slug, resolved[0].field
    changed = len({login.fetched.value for login in logins if login.fetched}) > 1
    evidence = {"logins": _resolved_entries(logins, resolved), "token_changed": changed}
    if len({found.value for found in resolved}) > 1:
        message = (
            f"Two logins of {user.label} are resolved by {where} to two different {field} values."
        )
        return check.result(Verdict.FAIL, target=auth.name, message=message, evidence=evidence)
    message = (
        f"Two logins of {user.label} got different session cookies that {where} "
        f"resolves to the same {field}."
    )
    return check.result(Verdict.PASS, target=auth.name, message=message, evidence=evidence)


def _unique_resolved(
    check: Check, auth: CustomerAuth, logins: list[Login], resolved: list[Resolved]
) -> CheckResult:
    owners: dict[str, list[str]] = {}
    for login, found in zip(logins, resolved, strict=True):
        assert login.user is not None
        owners.setdefault(found.value, []).append(login.user.label)
    evidence = {"identities": _resolved_entries(logins, resolved)}
    shared = [labels for labels in owners.values() if len(labels) > 1]
    where, field = resolved[0].endpoint.slug, resolved[0].field
    if shared:
        message = (
            f"{where} resolves the sessions of different test users to the same "
            f"{field}: {', '.join(shared[0])}."
        )
        return check.result(Verdict.FAIL, target=auth.name, message=message, evidence=evidence)
    message = f"{where} resolves {len(logins)} test users to {len(owners)} different {field}s."
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
