"""Credential list columns: how its token fetches are going, and when it is tried again."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from integrations.models.tokens import CachedToken
from integrations.services.tokens import failure_next_attempt_at

NONE = "—"


class TokenStatusColumnsMixin:
    """Columns read from the credential's token row (``token_row``, a reverse one-to-one
    to select with the list): consecutive failures, the last error code, and when a
    failing credential is tried again, which every process computes the same way."""

    token_row = ""  # "access_token" for OAuth clients, "session" for test users

    def _row(self, obj: Any) -> CachedToken | None:
        try:
            return getattr(obj, self.token_row)
        except ObjectDoesNotExist:  # never fetched: no row yet
            return None

    @admin.display(description="consecutive failures")
    def token_failures(self, obj: Any) -> int:
        row = self._row(obj)
        return row.consecutive_failures if row else 0

    @admin.display(description="last error code")
    def token_error_code(self, obj: Any) -> str:
        row = self._row(obj)
        return (row.last_error_code if row else "") or NONE

    @admin.display(description="next attempt")
    def token_next_attempt(self, obj: Any) -> str:
        at = failure_next_attempt_at(row=self._row(obj))
        if at is None:
            return NONE
        return f"next attempt at {timezone.localtime(at):%Y-%m-%d %H:%M:%S %Z}"
