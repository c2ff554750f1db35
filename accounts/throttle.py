"""Failure counters in the cache, and the client address they are counted against.

A failed login (the admin's, /accounts/login/'s) and a failed API token count together.
Each failure is counted in every counter it belongs to, for ``LOGIN_FAILURE_WINDOW_S``
seconds from that counter's first failure (a fixed window: simple, and enough to stop
guessing); a counter at its limit refuses until its window ends:

- pair: one username (for a token, its prefix) from one address, ``LOGIN_MAX_FAILURES``;
- username: one username from any address, ``LOGIN_USERNAME_MAX_FAILURES``;
- address: one address (an IPv6 /64) whatever the names or tokens,
  ``LOGIN_ADDRESS_MAX_FAILURES``;
- global: everyone's failures, ``LOGIN_GLOBAL_MAX_FAILURES``.

A refused login checks no password, so the right one is refused too; it is not counted
either, so one address adds at most its own limit to the global count. Counters are kept
per name typed, whether or not a user has it: a refusal cannot tell which names exist.
API tokens have no username; how each limit treats them is in accounts.authentication.
Checked before the password and counted after it, a limit can be passed by the attempts
already in flight when it is reached: at most the requests the web processes serve at once.

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

PAIR, USERNAME, ADDRESS, GLOBAL = "pair", "username", "address", "global"
_LIMIT_SETTINGS = {
    PAIR: "LOGIN_MAX_FAILURES",
    USERNAME: "LOGIN_USERNAME_MAX_FAILURES",
    ADDRESS: "LOGIN_ADDRESS_MAX_FAILURES",
    GLOBAL: "LOGIN_GLOBAL_MAX_FAILURES",
}
_GLOBAL_KEY = "accounts:global-failures"
# (scope, cache key) of each counter one attempt belongs to.
Counters = list[tuple[str, str]]


def scope_limit(scope: str) -> int:
    """The failures a scope's counter allows per window; 0 means no limit."""
    return int(getattr(settings, _LIMIT_SETTINGS[scope]))


def _key(kind: str, *parts: str) -> str:
    # Hashed: the parts are user input (a username, a presented token) and cache keys
    # must be short and safe; a token's secret half must not sit in the cache either.
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return f"accounts:{kind}:{digest}"


def _address_bucket(ip: str) -> str:
    """What the address limit counts: the address, or for IPv6 its /64 (one subscriber's
    network, whose other 2**64 addresses would each start a fresh count)."""
    address = _address(ip)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address or ip)


def _shared_counters(ip: str) -> Counters:
    return [(ADDRESS, _key("address-failures", _address_bucket(ip))), (GLOBAL, _GLOBAL_KEY)]


def _refusal(counters: Counters) -> str | None:
    """The first scope whose counter reached its limit, in one cache round trip."""
    counts = cache.get_many([key for _, key in counters])
    for scope, key in counters:
        limit = scope_limit(scope)
        if limit and int(counts.get(key, 0)) >= limit:
            return scope
    return None


def _record(counters: Counters) -> list[str]:
    """Count one failure in each counter; returns the scopes it brought to their limit.

    ``==`` on the count incr returned: under concurrent failures exactly one of them sees
    the limit reached, so a lock-out is reported once per window.
    """
    return [scope for scope, key in counters if _failure_count(key) == scope_limit(scope)]


def _failure_count(key: str) -> int:
    """Count one failure under key; returns the failures in the current window."""
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_S)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)
        return 1


# --- logins -------------------------------------------------------------------------


def _login_pair_key(username: str, ip: str) -> str:
    return _key("login-failures", username.casefold(), ip)


def _login_counters(username: str, ip: str) -> Counters:
    return [
        (PAIR, _login_pair_key(username, ip)),
        (USERNAME, _key("username-failures", username.casefold())),
        *_shared_counters(ip),
    ]


def login_refusal(*, username: str, ip: str) -> str | None:
    """The scope that refuses a login as ``username`` from ``ip`` now, or None."""
    return _refusal(_login_counters(username, ip))


def login_failure_record(*, username: str, ip: str) -> list[str]:
    """Count one failed login; returns the scopes it locked (see ``_record``)."""
    return _record(_login_counters(username, ip))


def login_failures_clear(*, username: str, ip: str) -> None:
    """Forget the pair's failures after its successful login.

    Only the pair's: clearing the username's or address's count would let whoever logs in
    to one account reset the count of a spray against the others.
    """
    cache.delete(_login_pair_key(username, ip))


def login_refused_message() -> str:
    """The one message of every refusal: which limit, or whether the name exists, untold."""
    minutes = max(1, round(settings.LOGIN_FAILURE_WINDOW_S / 60))
    return f"Too many failed logins. Try again in {minutes} minutes."


# --- API tokens ---------------------------------------------------------------------


def _token_pair_key(presented: str, ip: str) -> str:
    return _key("token-failures", presented, ip)


def token_attempts_blocked(*, presented: str, ip: str) -> bool:
    """Whether this presented token (its prefix) failed too often from this address."""
    return _refusal([(PAIR, _token_pair_key(presented, ip))]) is not None


def failures_exhausted(*, ip: str) -> str | None:
    """The scope (address or global) whose failures, logins and tokens alike, reached its
    limit for ``ip``, or None."""
    return _refusal(_shared_counters(ip))


def token_failure_record(*, presented: str, ip: str) -> list[str]:
    """Count one failed token against its pair, its address and the global count; returns
    the scopes it locked."""
    return _record([(PAIR, _token_pair_key(presented, ip)), *_shared_counters(ip)])
