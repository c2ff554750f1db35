"""Save-time checks of the URLs a solution engineer configures.

An environment's base URL, and a credential URL given as an absolute URL, pass the
edge's own address policy (with the outbound allow-list from settings) when they are
saved, so a wrong URL is refused with its reason then rather than at the first call.
Two things differ from send time, on purpose:

- a name that does not resolve may be saved: a customer's DNS is often not public yet
  when a UAT environment is configured, and the edge resolves and checks every call;
- the lookup is bounded by ``SAVE_TIME_DNS_TIMEOUT_S``, so a slow resolver cannot
  hang the admin or the API.

Paths (an endpoint's path, a relative token URL) must stay on the base URL's origin.
"""

from __future__ import annotations

import queue
import re
import threading
from typing import Any
from urllib.parse import urlsplit

from integrations.outbound.errors import DnsFailure, InvalidUrl, OutboundError
from integrations.outbound.policy import (
    FORBIDDEN_IN_URL,
    OutboundPolicy,
    Resolver,
    credentials_check,
    resolve_destination,
)

SAVE_TIME_DNS_TIMEOUT_S = 2.0
_ABSOLUTE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def is_absolute_url(value: str) -> bool:
    """Whether ``value`` names its own scheme and host (``https://...``), not a path."""
    return bool(_ABSOLUTE.match(value))


def base_url_check(url: str, *, policy: OutboundPolicy | None = None) -> None:
    """Raise InvalidUrl or BlockedDestination unless ``url`` may be a base URL."""
    absolute_url_check(url, policy=policy)
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        # Paths are appended to the base URL: a query there would swallow them.
        raise InvalidUrl("the base URL cannot have a query or fragment; put them in the path")


def absolute_url_check(url: str, *, policy: OutboundPolicy | None = None) -> None:
    """Raise InvalidUrl or BlockedDestination when the edge would refuse ``url``.

    A DNS failure is not an error here: the edge checks again at send time.
    """
    policy = policy or OutboundPolicy.from_settings()
    resolver = _bounded(policy.resolver, SAVE_TIME_DNS_TIMEOUT_S)
    try:
        resolve_destination(url, allowlist=policy.allowlist, resolver=resolver)
    except DnsFailure:
        credentials_check(urlsplit(url))  # resolve_destination checks them after DNS


def path_check(path: str) -> None:
    """Raise InvalidUrl unless ``path`` is a path on the base URL, never another origin."""
    if is_absolute_url(path) or path.startswith("//"):
        raise InvalidUrl(
            "must be a path such as /orders/{order_id}, not a URL: the scheme and host "
            "come from the environment's base URL"
        )
    if not path.startswith("/"):
        raise InvalidUrl("must be a path starting with '/', such as /orders/{order_id}")
    if FORBIDDEN_IN_URL.search(path):
        raise InvalidUrl("the path contains spaces, control characters or backslashes")


def path_or_url_check(value: str, *, policy: OutboundPolicy | None = None) -> None:
    """A credential URL: a path on the base URL, or an absolute URL the edge may call."""
    if is_absolute_url(value):
        absolute_url_check(value, policy=policy)
    else:
        path_check(value)


def error_sentence(error: OutboundError) -> str:
    """The policy's message as a sentence, for a form or an API field error."""
    text = error.message[:1].upper() + error.message[1:]
    return text if text.endswith(".") else text + "."


def _bounded(resolver: Resolver, timeout_s: float) -> Resolver:
    """``resolver`` with a time limit; a lookup still running then is left to finish."""

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        answer: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

        def run() -> None:
            try:
                answer.put((True, resolver(host, port, *args, **kwargs)))
            except BaseException as error:  # handed to the caller's thread
                answer.put((False, error))

        threading.Thread(target=run, name="save-time-dns", daemon=True).start()
        try:
            ok, value = answer.get(timeout=timeout_s)
        except queue.Empty:
            raise TimeoutError(f"no answer within {timeout_s:g} s") from None
        if not ok:
            raise value
        return value

    return resolve
