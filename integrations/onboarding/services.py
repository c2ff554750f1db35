"""The flow's writes: one row per step, validated whole by the model, saved and audited.

Every rule of the admin applies because every write runs ``full_clean`` (the address
policy of a base URL, save rules of header names, the endpoint's cross-field checks).
A row edited again (a step opened a second time) goes through the same destination
rule as the admin: a new host clears the secrets stored for the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpRequest
from django.utils.text import slugify

from integrations.choices import AuditAction, IdentifierLocation
from integrations.models import (
    ApiKey,
    Customer,
    CustomerAuth,
    Endpoint,
    Environment,
    OAuthClient,
    TestUser,
)
from integrations.onboarding.steps import Flow
from integrations.services.audit import audit_record
from integrations.services.destinations import destination_change_settle, destinations_snapshot

Row = TypeVar("Row", bound=models.Model)
SECRET_REQUIRED = "This secret is required: paste the value the customer issued."


@dataclass(frozen=True)
class Saved(Generic[Row]):
    """The row a step wrote, and what the save did to secrets stored under it, if anything."""

    row: Row
    notice: str = ""


def customer_save(
    *, customer: Customer | None, name: str, slug: str, actor: Any, request: HttpRequest | None
) -> Saved[Customer]:
    values = {"name": name, "slug": slug or _slug_made(Customer, name)}
    return _row_write(obj=customer or Customer(), values=values, actor=actor, request=request)


def environment_save(
    *,
    customer: Customer,
    environment: Environment | None,
    name: str,
    slug: str,
    kind: str,
    base_url: str,
    actor: Any,
    request: HttpRequest | None,
) -> Saved[Environment]:
    """The environment; its base URL must pass the edge's address policy (Environment.clean)."""
    values = {
        "name": name,
        "slug": slug or _slug_made(Environment, name),
        "kind": kind,
        "base_url": base_url,
    }
    obj = environment or Environment(customer=customer)
    return _row_write(obj=obj, values=values, actor=actor, request=request)


def oauth_client_save(
    *,
    environment: Environment,
    oauth_client: OAuthClient | None,
    token_url: str,
    client_id: str,
    scope: str,
    auth_style: str,
    client_secret: str | None = None,
    actor: Any,
    request: HttpRequest | None,
) -> Saved[OAuthClient]:
    """``client_secret`` None keeps the stored one; a new client needs one."""
    obj = oauth_client or OAuthClient(environment=environment)
    values = {"token_url": token_url, "client_id": client_id, "scope": scope}
    values |= {"auth_style": auth_style} | _secret(obj, "client_secret", client_secret)
    return _row_write(obj=obj, values=values, actor=actor, request=request)


def customer_auth_save(
    *,
    environment: Environment,
    customer_auth: CustomerAuth | None,
    authenticate_url: str,
    mode: str,
    cookie_name: str,
    actor: Any,
    request: HttpRequest | None,
) -> Saved[CustomerAuth]:
    obj = customer_auth or CustomerAuth(environment=environment)
    values = {"authenticate_url": authenticate_url, "mode": mode, "cookie_name": cookie_name}
    return _row_write(obj=obj, values=values, actor=actor, request=request)


def test_user_save(
    *,
    customer_auth: CustomerAuth,
    test_user: TestUser | None,
    label: str,
    username: str,
    password: str | None = None,
    actor: Any,
    request: HttpRequest | None,
) -> Saved[TestUser]:
    """A blank label is the username: most customers' test logins are told apart by it."""
    obj = test_user or TestUser(customer_auth=customer_auth)
    values = {"label": label or username, "username": username}
    values |= _secret(obj, "password", password)
    return _row_write(obj=obj, values=values, actor=actor, request=request)


test_user_save.__test__ = False  # type: ignore[attr-defined]  # a service, not a pytest test


def api_key_save(
    *,
    environment: Environment,
    api_key: ApiKey | None,
    header_name: str,
    expires_on: date | None,
    value: str | None = None,
    actor: Any,
    request: HttpRequest | None,
) -> Saved[ApiKey]:
    obj = api_key or ApiKey(environment=environment)
    values = {"header_name": header_name, "expires_on": expires_on} | _secret(obj, "value", value)
    return _row_write(obj=obj, values=values, actor=actor, request=request)


def endpoint_save(
    *,
    flow: Flow,
    name: str,
    method: str,
    path: str,
    headers_template: Any,
    body_template: Any,
    identifier_location: str,
    identifier_header: str,
    identifier_format: str,
    identifier_body_field: str,
    probe_interval_s: int,
    send_access_token: bool = False,
    send_api_key: bool = False,
    actor: Any,
    request: HttpRequest | None,
) -> Saved[Endpoint]:
    """The endpoint, carrying the credentials made in this flow and none of anyone else's."""
    assert flow.environment is not None
    obj = flow.endpoint or Endpoint(environment=flow.environment)
    values = {
        "name": name,
        "slug": obj.slug or _slug_made(Endpoint, name) or "endpoint",
        "method": method,
        "path": path,
        "headers_template": headers_template,
        "body_template": body_template,
        "probe_interval_s": probe_interval_s,
    }
    values |= _identifier(
        flow,
        location=identifier_location,
        header=identifier_header,
        format_=identifier_format,
        body_field=identifier_body_field,
    )
    values["oauth_client"] = flow.oauth_client if send_access_token else None
    values["api_key"] = flow.api_key if send_api_key else None
    _slug_check(obj, values["slug"])
    return _row_write(obj=obj, values=values, actor=actor, request=request)


def _identifier(
    flow: Flow, *, location: str, header: str, format_: str, body_field: str
) -> dict[str, Any]:
    """Where the customer identifier goes; without one, no customer auth and no test user."""
    sends = location != IdentifierLocation.NONE
    return {
        "identifier_location": location,
        "identifier_header": header,
        "identifier_format": format_,
        "identifier_body_field": body_field,
        "customer_auth": flow.customer_auth if sends else None,
        "default_test_user": flow.test_user if sends else None,
    }


def _slug_made(model: type[models.Model], name: str) -> str:
    """The URL name made from ``name``, cut to the slug field's length: it was never typed,
    so its length must not be an error (a typed slug is checked as typed)."""
    field = model._meta.get_field("slug")
    assert isinstance(field, models.SlugField)
    return slugify(name)[: field.max_length].strip("-")


def _slug_check(endpoint: Endpoint, slug: str) -> None:
    # The slug is made from the name here, so its clash is the name's to tell.
    taken = Endpoint.objects.filter(environment=endpoint.environment_id, slug=slug)
    if taken.exclude(pk=endpoint.pk).exists():
        raise ValidationError(
            {"name": f"Another endpoint of this environment has the URL name '{slug}'."}
        )


def _secret(obj: models.Model, name: str, given: str | None) -> dict[str, str]:
    """A newly typed secret to write; nothing (keep the stored one) when none was typed."""
    if given:
        return {name: given}
    if getattr(obj, name) is None:
        raise ValidationError({name: SECRET_REQUIRED})
    return {}


def _row_write(
    *, obj: Row, values: dict[str, Any], actor: Any, request: HttpRequest | None
) -> Saved[Row]:
    """Set ``values``, validate the whole row, save it and audit the fields that changed."""
    created = obj.pk is None
    changed = [name for name, value in values.items() if created or getattr(obj, name) != value]
    if not changed:
        return Saved(obj)
    _values_validate(obj, values)
    with transaction.atomic():
        before = {} if created or isinstance(obj, Endpoint) else destinations_snapshot(obj=obj)
        obj.save()
        outcome = None
        if before:
            outcome = destination_change_settle(
                obj=obj,
                before=before,
                keep_secrets=False,
                actor=actor,
                request=request,
                via="onboarding",
            )
        action = AuditAction.CREATE if created else AuditAction.CHANGE
        audit_record(action=action, actor=actor, request=request, obj=obj, changed_fields=changed)
    if outcome is None:
        return Saved(obj)
    obj.refresh_from_db()  # the secrets it cleared must not be sent from memory
    return Saved(obj, outcome.message)


def _values_validate(obj: models.Model, values: dict[str, Any]) -> None:
    """Set ``values`` and validate the row; refused, the row gets its old values back.

    The flow's pages keep using the row they passed in (its slugs make every link), so
    a refused value must not stay on it.
    """
    before = {name: getattr(obj, name) for name in values}
    for name, value in values.items():
        setattr(obj, name, value)
    try:
        obj.full_clean()
    except ValidationError:
        for name, value in before.items():
            setattr(obj, name, value)
        raise
