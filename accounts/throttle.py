"""Failure counters in the cache, and the client address they are counted against.

Failed logins are counted per username and address; failed API token attempts per presented
token (its public prefix) and address, plus one ceiling per address. After
``LOGIN_MAX_FAILURES`` failures within ``LOGIN_FAILURE_WINDOW_S`` seconds a pair is refused
until the window ends. The window starts at the first failure (a fixed window: simple, and
enough to stop guessing).

The client address is REMOTE_ADDR unless that is one of ``PORTAL_TRUSTED_PROXIES``: only
then is X-Forwarded-For believed, so a client cannot name its own address to dodge a counter.
"""

from __future__ import annotations

import hashlib
import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# --- client address -------------------------------------------------------------


def client_ip(request: Any) -> str:
    """The client's address: REMOTE_ADDR, or what a trusted proxy says it forwarded for."""
    if request is None:
        return "-"
    remote = str(request.META.get("REMOTE_ADDR") or "-")
    networks = _trusted_networks(tuple(settings.PORTAL_TRUSTED_PROXIES))
    if not _is_trusted(_address(remote), networks):
        return remote
    return _forwarded_client(request.META.get("HTTP_X_FORWARDED_FOR", ""), remote, networks)


def _forwarded_client(header: str, remote: str, networks: tuple[Network, ...]) -> str:
    """The right-most X-Forwarded-For entry that is not a trusted proxy.

    Each proxy appends the address it saw, so entries right of the client were written by
    proxies we trust and anything left of it by the client itself. An entry that is not an
    address cannot be told from a forgery: the walk stops at the nearest proxy we trust.
    """
    nearest = remote
    for entry in reversed(header.split(",")):
        address = _address(entry)
        if address is None:
            return nearest
        if not _is_trusted(address, networks):
            return str(address)
        nearest = str(address)
    return nearest


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _is_trusted(address: Address | None, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


@lru_cache(maxsize=8)
def _trusted_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    # Settings validated these at start-up (ImproperlyConfigured otherwise).
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


# --- counters ---------------------------------------------------------------------


def _key(kind: str, *parts: str) -> str:
    # Hashed: the parts are user input (a username, a presented token) and cache keys
    # must be short and safe; a token's secret half must not sit in the cache either.
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return f"accounts:{kind}:{digest}"


def _failures(key: str) -> int:
    return int(cache.get(key, 0))


def _failure_count(key: str) -> int:
    """Count one failure under key; returns the failures in the current window."""
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_S)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)
        return 1


# --- logins -------------------------------------------------------------------------


def _login_key(username: str, ip: str) -> str:
    return _key("login-failures", username.casefold(), ip)


def login_blocked(*, username: str, ip: str) -> bool:
    return _failures(_login_key(username, ip)) >= settings.LOGIN_MAX_FAILURES


def login_failure_record(*, username: str, ip: str) -> int:
    """Count one failure; returns the failures in the current window."""
    return _failure_count(_login_key(username, ip))


def login_failures_clear(*, username: str, ip: str) -> None:
    cache.delete(_login_key(username, ip))


def login_blocked_message() -> str:
    minutes = max(1, round(settings.LOGIN_FAILURE_WINDOW_S / 60))
    return (
        f"Too many failed logins for this account from your address. "
        f"Try again in {minutes} minutes."
    )


# --- API tokens ---------------------------------------------------------------------


def token_attempts_blocked(*, presented: str, ip: str) -> bool:
    """Whether this presented token (its prefix) failed too often from this address."""
    return _failures(_key("token-failures", presented, ip)) >= settings.LOGIN_MAX_FAILURES


def token_address_exhausted(*, ip: str) -> bool:
    """Whether this address failed with more tokens than API_TOKEN_ADDRESS_MAX_FAILURES."""
    limit = settings.API_TOKEN_ADDRESS_MAX_FAILURES
    return _failures(_key("token-address-failures", ip)) > limit


def token_failure_record(*, presented: str, ip: str) -> None:
    """Count one failed attempt against the presented token and against the address."""
    _failure_count(_key("token-failures", presented, ip))
    _failure_count(_key("token-address-failures", ip))
