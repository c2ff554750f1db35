"""Secrets follow their destination: a save that moves where a secret goes clears it.

Every stored secret is sent to one origin (scheme, host and port): a client secret to
its token URL, a test user's password to its authenticate URL, an API key and the cached
tokens to the environment's base URL (a cached token also belongs to the URL that issued
it). A save that changes one of those origins -- a new base URL, token URL or
authenticate URL, or a credential moved under another environment -- would send secrets
to a host nobody entered them for, so they are cleared unless an admin confirms keeping
them. A change of path keeps them. A secret written in the same save was entered for
the new host and is kept.

Callers (admin, API, imports) take ``destinations_snapshot`` before the save and call
``destination_change_settle`` after it, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest

from accounts.roles import Role, role_of
from integrations import clock
from integrations.choices import AuditAction
from integrations.models import (
    AccessToken,
    ApiKey,
    Customer,
    CustomerAuth,
    Environment,
    OAuthClient,
    TestUser,
    UserSession,
)
from integrations.services.audit import audit_record

DEFAULT_PORTS = {"http": 80, "https": 443}


class KeepSecretsRefused(PermissionDenied):
    """Someone other than an admin asked to keep stored secrets for a new destination."""

    code = "keep_secrets_refused"
    message = "Only an admin can keep the stored secrets for a new host."

    def __init__(self) -> None:
        super().__init__(self.message)


@dataclass(frozen=True)
class Stored:
    """One stored secret: the origins it goes to, its ciphertext (to tell a re-entered one
    from the one stored before), and its name for people."""

    origins: tuple[str, ...]
    ciphertext: str
    name: str


# (model label, primary key, field name) -> the stored secret.
SecretRef = tuple[str, Any, str]
Snapshot = dict[SecretRef, Stored]


@dataclass(frozen=True)
class DestinationOutcome:
    """Secrets whose destination a save changed, and whether they were cleared or kept."""

    moves: tuple[tuple[str, str], ...]  # (old origin, new origin), each once
    secrets: tuple[str, ...]  # names, never values
    kept: bool

    @property
    def message(self) -> str:
        where = "; ".join(f"{old} → {new}" for old, new in self.moves)
        names = ", ".join(self.secrets)
        if self.kept:
            return f"The destination changed ({where}). An admin kept the stored secrets: {names}."
        return (
            f"The destination changed ({where}), so the stored secrets that went there were "
            f"cleared: {names}. Enter them again for the new host."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": "kept" if self.kept else "cleared",
            "changes": [{"old_origin": old, "new_origin": new} for old, new in self.moves],
            "secrets": list(self.secrets),
            "message": self.message,
        }


def url_origin(url: str) -> str:
    """``scheme://host:port`` of a URL, lower case and with the scheme's default port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return url.strip()  # not a valid port: compared as written, so any edit counts
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


def may_keep_secrets(actor: Any) -> bool:
    """Whether ``actor`` may keep stored secrets for a new destination: admins only."""
    return role_of(actor) is Role.ADMIN


def destinations_snapshot(*, obj: models.Model) -> Snapshot:
    """Where each secret stored under ``obj`` goes, read from the database (not ``obj``)."""
    return dict(_entries(*_credentials_under(obj)))


def destination_change_settle(
    *,
    obj: models.Model,
    before: Snapshot,
    keep_secrets: bool,
    actor: Any,
    request: HttpRequest | None = None,
    via: str,
) -> DestinationOutcome | None:
    """After a save: clear (or, for an admin who asked, keep) every secret it moved; audit it.

    None when no stored secret goes anywhere new.
    """
    if keep_secrets and not may_keep_secrets(actor):
        raise KeepSecretsRefused()
    moved = _moved(before, destinations_snapshot(obj=obj))
    if not moved:
        return None
    if not keep_secrets:
        _clear(list(moved))
    outcome = DestinationOutcome(
        moves=tuple(dict.fromkeys(_moves(moved))),
        secrets=tuple(new.name for _, new in moved.values()),
        kept=keep_secrets,
    )
    _audit(obj=obj, moved=moved, outcome=outcome, actor=actor, request=request, via=via)
    return outcome


def _moved(before: Snapshot, after: Snapshot) -> dict[SecretRef, tuple[Stored, Stored]]:
    # The same ciphertext is the secret stored before the save; a new one was entered now.
    return {
        ref: (before[ref], now)
        for ref, now in after.items()
        if ref in before
        and now.origins != before[ref].origins
        and now.ciphertext == before[ref].ciphertext
    }


def _moves(moved: dict[SecretRef, tuple[Stored, Stored]]) -> Iterator[tuple[str, str]]:
    for old, new in moved.values():
        yield from ((a, b) for a, b in zip(old.origins, new.origins, strict=True) if a != b)


def _credentials_under(obj: models.Model) -> tuple[Any, Any, Any]:
    """Query sets of the OAuth clients, test users and API keys stored under ``obj``.

    A customer auth's own secret (the JWT verification key) is never sent anywhere.
    """
    if isinstance(obj, Customer):
        return (
            OAuthClient.objects.filter(environment__customer=obj.pk),
            TestUser.objects.filter(customer_auth__environment__customer=obj.pk),
            ApiKey.objects.filter(environment__customer=obj.pk),
        )
    if isinstance(obj, Environment):
        return (
            OAuthClient.objects.filter(environment=obj.pk),
            TestUser.objects.filter(customer_auth__environment=obj.pk),
            ApiKey.objects.filter(environment=obj.pk),
        )
    clients, users, keys = (
        OAuthClient.objects.none(),
        TestUser.objects.none(),
        ApiKey.objects.none(),
    )
    if isinstance(obj, OAuthClient):
        clients = OAuthClient.objects.filter(pk=obj.pk)
    elif isinstance(obj, CustomerAuth):
        users = TestUser.objects.filter(customer_auth=obj.pk)
    elif isinstance(obj, TestUser):
        users = TestUser.objects.filter(pk=obj.pk)
    elif isinstance(obj, ApiKey):
        keys = ApiKey.objects.filter(pk=obj.pk)
    else:
        raise TypeError(f"no secrets are stored under a {type(obj).__name__}")
    return clients, users, keys


def _entries(clients: Any, users: Any, keys: Any) -> Iterator[tuple[SecretRef, Stored]]:
    for client in clients.select_related("environment", "access_token"):
        yield from _client_entries(client)
    for user in users.select_related("customer_auth__environment", "session"):
        yield from _user_entries(user)
    for key in keys.select_related("environment"):
        if key.value is not None:
            origins = (url_origin(key.environment.base_url),)
            stored = Stored(origins, key.value.ciphertext(), f"API key {key.name}: value")
            yield ("integrations.apikey", key.pk, "value"), stored


def _client_entries(client: OAuthClient) -> Iterator[tuple[SecretRef, Stored]]:
    env = client.environment
    token_origin = url_origin(env.absolute_url(client.token_url))
    if client.client_secret is not None:
        name = f"OAuth client {client.client_id}: client secret"
        stored = Stored((token_origin,), client.client_secret.ciphertext(), name)
        yield ("integrations.oauthclient", client.pk, "client_secret"), stored
    cached = getattr(client, "access_token", None)
    if cached is not None and cached.token is not None:
        # Issued by the token URL, sent to the base URL: it belongs to both.
        origins = (token_origin, url_origin(env.base_url))
        name = f"OAuth client {client.client_id}: cached access token"
        stored = Stored(origins, cached.token.ciphertext(), name)
        yield ("integrations.accesstoken", client.pk, "token"), stored


def _user_entries(user: TestUser) -> Iterator[tuple[SecretRef, Stored]]:
    auth = user.customer_auth
    auth_origin = url_origin(auth.environment.absolute_url(auth.authenticate_url))
    if user.password is not None:
        name = f"test user {user.label}: password"
        stored = Stored((auth_origin,), user.password.ciphertext(), name)
        yield ("integrations.testuser", user.pk, "password"), stored
    session = getattr(user, "session", None)
    if session is not None and session.token is not None:
        origins = (auth_origin, url_origin(auth.environment.base_url))
        name = f"test user {user.label}: cached session"
        stored = Stored(origins, session.token.ciphertext(), name)
        yield ("integrations.usersession", user.pk, "token"), stored


# Stored secrets are set to null; cached tokens are deleted, which also makes every
# process drop its in-memory copy (services.tokens checks the row's generation).
_SECRET_MODELS: dict[str, type[models.Model]] = {
    "integrations.oauthclient": OAuthClient,
    "integrations.testuser": TestUser,
    "integrations.apikey": ApiKey,
}
_TOKEN_MODELS: dict[str, type[models.Model]] = {
    "integrations.accesstoken": AccessToken,
    "integrations.usersession": UserSession,
}


def _clear(refs: list[SecretRef]) -> None:
    now = clock.now()
    for label, pk, field in refs:
        if label in _TOKEN_MODELS:
            _TOKEN_MODELS[label]._default_manager.filter(pk=pk).delete()
        else:
            manager = _SECRET_MODELS[label]._default_manager
            manager.filter(pk=pk).update(**{field: None, "updated_at": now})


def _audit(
    *,
    obj: models.Model,
    moved: dict[SecretRef, tuple[Stored, Stored]],
    outcome: DestinationOutcome,
    actor: Any,
    request: HttpRequest | None,
    via: str,
) -> None:
    audit_record(
        action=AuditAction.CHANGE,
        actor=actor,
        request=request,
        obj=obj,
        changed_fields=[] if outcome.kept else sorted({field for _, _, field in moved}),
        detail={
            "event": "destination_change",
            "via": via,
            **outcome.as_dict(),
            "secret_refs": [{"type": label, "id": pk, "field": f} for label, pk, f in moved],
        },
    )
