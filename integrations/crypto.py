"""Encryption of stored secrets with MultiFernet.

The first key in settings.ENCRYPTION_KEYS encrypts; every key decrypts, so keys
can be rotated: add a new key in front, run ``manage.py rotate_encryption_keys``,
then drop the old key.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with any configured key."""

    code = "secret_undecryptable"

    def __init__(self, where: str = "a stored secret") -> None:
        super().__init__(
            f"Cannot decrypt {where}: it was encrypted under a key that is not in "
            "PORTAL_ENCRYPTION_KEYS (or the value is corrupt). Restore the old key, "
            "or enter the secret again."
        )


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "PORTAL_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)"
        ) from error


def _keys() -> MultiFernet:
    return _multifernet(tuple(settings.ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _keys().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _keys().decrypt(ciphertext.encode()).decode()
    except (InvalidToken, UnicodeError) as error:
        raise SecretDecryptionError() from error


def reencrypt(ciphertext: str) -> str:
    """Return the same secret encrypted under the newest key."""
    try:
        return _keys().rotate(ciphertext.encode()).decode()
    except InvalidToken as error:
        raise SecretDecryptionError() from error


def fingerprint(plaintext: str) -> str:
    """A short, keyed fingerprint: tells values apart without revealing them.

    Keyed with SECRET_KEY so that a low-entropy secret (a password) cannot be
    found by hashing guesses.
    """
    key = hashlib.sha256(b"portal-fingerprint:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, plaintext.encode(), hashlib.sha256).hexdigest()[:8]
