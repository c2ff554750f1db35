"""Token cache: one row per credential, encrypted, with expiry and last refresh outcome.

The row is also what the token broker locks (SELECT ... FOR UPDATE) so that only
one caller at a time fetches a new token for a credential, and its ``generation`` is
what every process checks its in-memory copy of the token against.
"""

from __future__ import annotations

import secrets

from django.db import models

from integrations.choices import RefreshOutcome, TokenKind
from integrations.fields import EncryptedSecretField
from integrations.models.credentials import OAuthClient, TestUser


def new_generation() -> int:
    """A fresh generation: random, so a row deleted and created again never repeats one
    that a process may still hold in memory."""
    return secrets.randbits(62)


class CachedToken(models.Model):
    """Fields shared by every cached token row."""

    token = EncryptedSecretField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(
        max_length=10, choices=RefreshOutcome, default=RefreshOutcome.NEVER
    )
    last_error_code = models.CharField(max_length=100, blank=True)
    last_error_message = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    next_refresh_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Changes whenever the token is replaced or forgotten (services.tokens): one read by
    # primary key tells a process whether the token it holds in memory is still current.
    generation = models.BigIntegerField(default=new_generation, editable=False)

    class Meta:
        abstract = True


class AccessToken(CachedToken):
    """The cached OAuth access token of one OAuth client."""

    oauth_client = models.OneToOneField(
        OAuthClient, on_delete=models.CASCADE, primary_key=True, related_name="access_token"
    )
    token_type = models.CharField(max_length=40, blank=True)
    scope = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "cached access token"

    def __str__(self) -> str:
        return f"access token of {self.oauth_client}"


class UserSession(CachedToken):
    """The cached customer identifier (JWT or session cookie) of one test user."""

    test_user = models.OneToOneField(
        TestUser, on_delete=models.CASCADE, primary_key=True, related_name="session"
    )
    kind = models.CharField(max_length=10, choices=TokenKind, default=TokenKind.JWT)
    cookie_name = models.CharField(max_length=100, blank=True)

    class Meta:
        verbose_name = "cached user session"

    def __str__(self) -> str:
        return f"session of {self.test_user}"
