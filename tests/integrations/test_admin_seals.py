"""A secret typed into a failed admin form comes back sealed: kept when its row is
renumbered, and refused with a clear error (never taken as "left blank") when too old or
made for another user or field."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django.urls import reverse

from integrations.admin_forms import SEAL_MAX_AGE_S, secret_seal
from integrations.models import ApiKey, Environment
from tests.factories import make_api_key, make_environment
from tests.helpers import moving_clock
from tests.integrations.admin_pages import form_read, page_form, row_add, submitted

pytestmark = pytest.mark.django_db

REFUSED = "Your typed value has expired or could not be kept; type it again."


def env_url(env: Environment) -> str:
    return reverse("admin:integrations_environment_change", args=[env.pk])


def key_url(key: ApiKey) -> str:
    return reverse("admin:integrations_apikey_change", args=[key.pk])


def post(client: Client, url: str, form: dict[str, str]) -> Any:
    return client.post(url, submitted(form))


def failed_key_change(client: Client, key: ApiKey, typed: str) -> dict[str, str]:
    """The API key's change page after a submit that typed a new value but failed."""
    form = page_form(client, key_url(key))
    form.update(value=typed, header_name="not a header")
    failed = post(client, key_url(key), form)
    html = failed.content.decode()
    assert failed.status_code == 200 and typed not in html
    again = form_read(html)
    assert again["value"] == "" and again["value__sealed"]
    again["header_name"] = "api-key"  # the mistake fixed; the value left to its seal
    return again


def stored_value(key: ApiKey) -> str:
    key.refresh_from_db()
    assert key.value is not None
    return key.value.reveal()


def test_a_sealed_secret_survives_its_added_row_being_renumbered(admin_client: Client) -> None:
    env = make_environment()
    form = page_form(admin_client, env_url(env))
    row_add(form, "api_keys", name="first")  # no value: the submit fails
    row_add(form, "api_keys", name="second", value="typed-canary-key")
    failed = post(admin_client, env_url(env), form)
    assert failed.status_code == 200 and "This secret is required." in failed.content.decode()

    # The user deletes the first added row; the admin's inlines.js renumbers the second.
    again = form_read(failed.content.decode())
    for name, value in list(again.items()):
        if name.startswith(("api_keys-0-", "api_keys-1-")):
            del again[name]
            if name.startswith("api_keys-1-"):
                again["api_keys-0-" + name.removeprefix("api_keys-1-")] = value
    again["api_keys-TOTAL_FORMS"] = "1"

    assert post(admin_client, env_url(env), again).status_code == 302
    saved = ApiKey.objects.get(environment=env)
    assert saved.name == "second" and stored_value(saved) == "typed-canary-key"


def test_an_expired_seal_asks_for_the_value_again_instead_of_keeping_the_old_one(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = moving_clock(monkeypatch)
    key = make_api_key(value="old-key-value")
    again = failed_key_change(admin_client, key, "new-key-value")

    ahead(SEAL_MAX_AGE_S + 1)
    response = post(admin_client, key_url(key), again)

    assert response.status_code == 200  # was 302 "changed successfully", old value kept
    assert REFUSED in response.content.decode()
    assert stored_value(key) == "old-key-value"


def test_a_seal_still_fresh_saves_the_typed_value(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = moving_clock(monkeypatch)
    key = make_api_key(value="old-key-value")
    again = failed_key_change(admin_client, key, "new-key-value")

    ahead(SEAL_MAX_AGE_S - 60)
    assert post(admin_client, key_url(key), again).status_code == 302
    assert stored_value(key) == "new-key-value"


def test_another_users_seal_is_refused(
    admin_client: Client, django_user_model: type[AbstractBaseUser]
) -> None:
    key = make_api_key(value="old-key-value")
    again = failed_key_change(admin_client, key, "new-key-value")
    other = Client()
    other.force_login(
        django_user_model.objects.create_superuser(  # type: ignore[attr-defined]
            username="other-admin", email="other@example.com", password="x-Unused-9"
        )
    )

    response = post(other, key_url(key), again)

    assert response.status_code == 200 and REFUSED in response.content.decode()
    assert stored_value(key) == "old-key-value"


def test_a_seal_made_for_another_field_is_refused(
    admin_client: Client, admin_user: AbstractBaseUser
) -> None:
    key = make_api_key(value="old-key-value")
    form = page_form(admin_client, key_url(key))
    form["value__sealed"] = secret_seal(
        field="integrations.OAuthClient.client_secret", owner=admin_user.pk, value="not-for-keys"
    )

    response = post(admin_client, key_url(key), form)

    assert response.status_code == 200 and REFUSED in response.content.decode()
    assert stored_value(key) == "old-key-value"
