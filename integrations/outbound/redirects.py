"""Decisions for following a redirect by hand.

requests never follows redirects for us: every hop must pass the address policy
again, and credentials must not travel to a host the customer did not configure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin

from integrations.outbound.errors import TooManyRedirects
from integrations.outbound.exchange import RedirectHop
from integrations.outbound.policy import Destination
from integrations.outbound.redaction import CREDENTIAL_HEADERS

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers describing a body; they go when a redirect turns the request into a GET.
_BODY_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "transfer-encoding"}
)


def crosses_trust_boundary(previous: Destination, following: Destination) -> bool:
    """Whether credentials sent to ``previous`` must not be sent to ``following``.

    Another host or port is another party; https to http would expose them in clear.
    """
    other_party = (previous.host, previous.port) != (following.host, following.port)
    downgrade = previous.scheme == "https" and following.scheme == "http"
    return other_party or downgrade


def redirected_method(status: int, method: str) -> tuple[str, bool]:
    """The method for the next hop and whether the body goes with it.

    Browsers turn 303 (any method but HEAD) and a POST answered 301/302 into a body-less
    GET; 307 and 308 repeat the request as it was.
    """
    method = method.upper()
    if status == 303 and method != "HEAD":
        return "GET", False
    if status in (301, 302) and method == "POST":
        return "GET", False
    return method, True


def next_hop_headers(
    headers: Mapping[str, str],
    *,
    previous: Destination,
    following: Destination,
    keep_body: bool,
    sensitive: Iterable[str] = (),
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Headers for the next hop, and the names of credential headers left behind."""
    secret_names = CREDENTIAL_HEADERS | {name.lower() for name in sensitive}
    strip = crosses_trust_boundary(previous, following)
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "host" or (not keep_body and lowered in _BODY_HEADERS):
            continue
        if strip and lowered in secret_names:
            dropped.append(name)
            continue
        kept[name] = value
    return kept, tuple(dropped)


@dataclass(frozen=True)
class NextHop:
    """The request to send after a redirect answer."""

    destination: Destination
    method: str
    headers: dict[str, str]
    body: bytes | None


def next_hop(
    hops: list[RedirectHop],
    *,
    limit: int,
    too_many: Callable[[], TooManyRedirects],
    previous: Destination,
    method: str,
    headers: Mapping[str, str],
    body: bytes | None,
    sensitive: Iterable[str],
    resolve: Callable[[str], Destination],
) -> NextHop:
    """The next hop after ``hops[-1]``, checked by ``resolve`` (the address policy).

    Both clients follow redirects through this one function, so they agree on the hop
    budget, the method, the body and the credentials left behind; the names of those
    are recorded on ``hops[-1]``.
    """
    if len(hops) > limit:
        raise too_many()
    following = resolve(urljoin(previous.url, hops[-1].location))
    method, keep_body = redirected_method(hops[-1].status, method)
    kept, dropped = next_hop_headers(
        headers, previous=previous, following=following, keep_body=keep_body, sensitive=sensitive
    )
    hops[-1] = dataclasses.replace(hops[-1], dropped_headers=dropped)
    return NextHop(following, method, kept, body if keep_body else None)
