"""Encryption of stored secrets: round trip, rotation, unknown keys, refused lookups."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from integrations.crypto import SecretDecryptionError
from integrations.models import ApiKey, AuditEvent, OAuthClient, TestUser
from integrations.secrets import MASK, Secret
from tests.factories import make_api_key, make_environment, make_oauth_client, make_test_user

pytestmark = pytest.mark.django_db

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
KEY_C = Fernet.generate_key().decode()


def raw_column(model: type, pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(model._meta.db_table)
        pk_col = connection.ops.quote_name(model._meta.pk.column)
        cursor.execute(f"SELECT {column} FROM {table} WHERE {pk_col} = %s", [pk])
        return cursor.fetchone()[0]


def test_a_secret_round_trips_and_is_stored_as_ciphertext() -> None:
    client = make_oauth_client(secret="canary-round-trip-1234")
    stored = raw_column(OAuthClient, client.pk, "client_secret")
    assert "canary-round-trip-1234" not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token
    assert OAuthClient.objects.get(pk=client.pk).client_secret.reveal() == "canary-round-trip-1234"


def test_each_write_produces_different_ciphertext_for_the_same_value() -> None:
    one = make_api_key(value="same-value")
    two = make_api_key(value="same-value", name="second")
    assert raw_column(ApiKey, one.pk, "value") != raw_column(ApiKey, two.pk, "value")


def test_a_secret_never_shows_itself_in_str_or_repr() -> None:
    secret = Secret(plaintext="canary-str")
    client = make_oauth_client(secret="canary-str")
    for text in (str(secret), repr(secret), str(client), repr(client), f"{secret}"):
        assert "canary-str" not in text
    assert str(secret) == MASK


def test_rotation_moves_every_secret_to_the_new_key() -> None:
    with override_settings(ENCRYPTION_KEYS=[KEY_A]):
        client = make_oauth_client(secret="oauth-under-a")
        user = make_test_user(password="password-under-a")
        key = make_api_key(value="key-under-a")
    with override_settings(ENCRYPTION_KEYS=[KEY_B, KEY_A]):
        call_command("rotate_encryption_keys", stdout=open("/dev/null", "w"))
    with override_settings(ENCRYPTION_KEYS=[KEY_B]):
        assert OAuthClient.objects.get(pk=client.pk).client_secret.reveal() == "oauth-under-a"
        assert TestUser.objects.get(pk=user.pk).password.reveal() == "password-under-a"
        assert ApiKey.objects.get(pk=key.pk).value.reveal() == "key-under-a"
    assert AuditEvent.objects.filter(action="rotate_keys").count() == 1


def test_a_value_under_an_unknown_key_fails_clearly() -> None:
    with override_settings(ENCRYPTION_KEYS=[KEY_A]):
        client = make_oauth_client(secret="only-key-a-knows")
    with override_settings(ENCRYPTION_KEYS=[KEY_C]):
        loaded = OAuthClient.objects.get(pk=client.pk)
        with pytest.raises(SecretDecryptionError, match="PORTAL_ENCRYPTION_KEYS"):
            loaded.client_secret.reveal()


def test_rotation_with_an_unknown_key_changes_nothing() -> None:
    with override_settings(ENCRYPTION_KEYS=[KEY_A]):
        client = make_oauth_client(secret="stays-under-a")
    before = raw_column(OAuthClient, client.pk, "client_secret")
    with override_settings(ENCRYPTION_KEYS=[KEY_B]):
        make_api_key(value="under-b")
        with pytest.raises(CommandError, match="Nothing was changed"):
            call_command("rotate_encryption_keys")
    assert raw_column(OAuthClient, client.pk, "client_secret") == before


def test_filtering_on_an_encrypted_field_is_refused() -> None:
    make_oauth_client(secret="x")
    with pytest.raises(FieldError, match="encrypted field"):
        list(OAuthClient.objects.filter(client_secret="x"))
    with pytest.raises(FieldError, match="encrypted field"):
        list(OAuthClient.objects.filter(client_secret__icontains="x"))
    with pytest.raises(FieldError):
        list(OAuthClient.objects.exclude(client_secret__startswith="x"))


def test_isnull_is_the_one_lookup_allowed_on_a_secret() -> None:
    env = make_environment()
    make_oauth_client(environment=env, secret="present")
    OAuthClient.objects.create(environment=env, name="no-secret", client_id="c2")
    assert OAuthClient.objects.filter(client_secret__isnull=True).count() == 1


def test_an_unchanged_secret_keeps_its_ciphertext_on_save() -> None:
    client = make_oauth_client(secret="keep-me")
    before = raw_column(OAuthClient, client.pk, "client_secret")
    loaded = OAuthClient.objects.get(pk=client.pk)
    loaded.scope = "read"
    loaded.save()
    assert raw_column(OAuthClient, client.pk, "client_secret") == before
