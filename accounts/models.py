"""API tokens for internal tools. Only a hash of each token is stored."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TokenScope(models.TextChoices):
    READ = "read", "Read (GET only)"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    """A token an internal tool sends as ``Authorization: Token <token>``; it acts as its user.

    The plaintext is shown once when the token is made; the row keeps a lookup prefix
    and the SHA-256 of the whole token (tokens are 32 random bytes, so a plain hash is
    enough: there is nothing to guess).
    """

    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'grafana'.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scope = models.CharField(max_length=5, choices=TokenScope, default=TokenScope.READ)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} (pt_{self.prefix}…)"
