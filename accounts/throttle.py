"""Login throttling: failed logins counted per username and client address in the cache.

After ``LOGIN_MAX_FAILURES`` failures within ``LOGIN_FAILURE_WINDOW_S`` seconds the pair
is refused until the window ends, even with the right password. The window starts at
the first failure (a fixed window: simple, and enough to stop guessing).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache

# The "username" under which failed API token attempts from one address are counted.
API_TOKEN_ATTEMPTS = "<api token>"


def client_ip(request: Any) -> str:
    """The client address Django saw (REMOTE_ADDR; a proxy must set it correctly)."""
    if request is None:
        return "-"
    return str(request.META.get("REMOTE_ADDR") or "-")


def _key(username: str, ip: str) -> str:
    # Hashed: usernames are user input and cache keys must be short and safe.
    digest = hashlib.sha256(f"{username.casefold()}\0{ip}".encode()).hexdigest()
    return f"accounts:login-failures:{digest}"


def login_blocked(*, username: str, ip: str) -> bool:
    return int(cache.get(_key(username, ip), 0)) >= settings.LOGIN_MAX_FAILURES


def login_failure_record(*, username: str, ip: str) -> int:
    """Count one failure; returns the failures in the current window."""
    key = _key(username, ip)
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_S)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)
        return 1


def login_failures_clear(*, username: str, ip: str) -> None:
    cache.delete(_key(username, ip))


def login_blocked_message() -> str:
    minutes = max(1, round(settings.LOGIN_FAILURE_WINDOW_S / 60))
    return (
        f"Too many failed logins for this account from your address. "
        f"Try again in {minutes} minutes."
    )
