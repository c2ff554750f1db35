"""Address policy: which URLs the outbound edge may call, and at which IP.

``resolve_destination`` parses and normalises the URL, resolves the host once and
checks every address it resolved to. The transport then connects to the checked
IP itself, so no second lookup can swap the address (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

import idna

from integrations.outbound.addresses import IPAddress, address_block
from integrations.outbound.errors import BlockedDestination, BlockReason, DnsFailure, InvalidUrl

Resolver = Callable[..., Sequence[tuple[Any, ...]]]
"""``socket.getaddrinfo``-compatible: called as ``resolver(host, port, type=SOCK_STREAM)``."""


def system_resolver(host: str, port: int, *args: Any, **kwargs: Any) -> Sequence[tuple[Any, ...]]:
    """``socket.getaddrinfo``, looked up at each call so a test can replace it."""
    return socket.getaddrinfo(host, port, *args, **kwargs)


ALLOWED_SCHEMES = {"http": 80, "https": 443}
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
FORBIDDEN_IN_URL = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True)
class Destination:
    """A checked destination: where to connect (``ip``) and who we talk to (``host``)."""

    scheme: str
    host: str  # normalised: lower-case ASCII (IDNA), no trailing dot, IPs canonical
    port: int
    ip: str
    addresses: tuple[str, ...]
    target: str  # path + query, what goes on the request line
    allowlisted: bool = False

    @property
    def netloc(self) -> str:
        """``host[:port]`` as a Host header, port omitted when it is the scheme's default."""
        if ALLOWED_SCHEMES[self.scheme] == self.port:
            return f"[{self.host}]" if ":" in self.host else self.host
        return _hostport(self.host, self.port)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.target}"

    @property
    def pinned_url(self) -> str:
        """The URL with the checked IP in place of the host name: what we connect to."""
        return f"{self.scheme}://{_hostport(self.ip, self.port)}{self.target}"


@dataclass(frozen=True)
class Allowlist:
    """``host:port`` pairs that may be called even when they are not public addresses.

    A pair matches either the URL's normalised host (``localhost:8001``) or a
    resolved IP (``127.0.0.1:8001``), always together with the port.
    """

    pairs: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> Allowlist:
        return cls(frozenset(_parse_allowlist_entry(entry) for entry in entries if entry.strip()))

    def permits(self, host: str, port: int) -> bool:
        return (host, port) in self.pairs


def _parse_allowlist_entry(entry: str) -> tuple[str, int]:
    try:
        parts = urlsplit(f"//{entry.strip()}")
        port = parts.port
        host = normalise_host(parts)
    except (ValueError, InvalidUrl) as error:
        raise ValueError(f"outbound allow-list entry {entry!r} is not host:port") from error
    if port is None:
        raise ValueError(f"outbound allow-list entry {entry!r} has no port")
    return host, port


def _parse_ipv4_loose(host: str) -> ipaddress.IPv4Address | None:
    """Parse IPv4 the way ``inet_aton`` and browsers do: ``127.1``, ``0x7f.1``,
    ``2130706433``, ``017700000001``. Returns None when the host is not numeric."""
    labels = host.split(".")
    if not _NUMERIC_LABEL.match(labels[-1]):
        return None
    if len(labels) > 4 or not all(_NUMERIC_LABEL.match(label) for label in labels):
        raise InvalidUrl(f"host '{host}' looks like an IPv4 address but is not a valid one")
    try:
        numbers = [_parse_ipv4_part(label) for label in labels]
    except ValueError:
        raise InvalidUrl(f"host '{host}' is not a valid IPv4 address") from None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise InvalidUrl(f"host '{host}' is not a valid IPv4 address")
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(leading))
    return ipaddress.IPv4Address(value)


def _parse_ipv4_part(label: str) -> int:
    if label.startswith("0x"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8)
    return int(label, 10)


def _normalise_name(name: str) -> str:
    """Lower-case ASCII host name, IDNA-encoded when it is not ASCII."""
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError as error:
            raise InvalidUrl(f"host '{name}' is not a valid internationalised name") from error
    name = name.lower()
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise InvalidUrl(f"host '{name}' is not a valid host name")
    return name


def normalise_host(parts: SplitResult) -> str:
    """The canonical host of a parsed URL: IP literals in standard form, names lower-case.

    Percent-decoding comes first so ``%31%32%37.0.0.1`` is seen as 127.0.0.1.
    """
    raw = parts.hostname
    if not raw:
        raise InvalidUrl("the URL has no host")
    if "[" in parts.netloc:
        try:
            return str(ipaddress.IPv6Address(unquote(raw)))
        except ValueError:
            raise InvalidUrl(f"host '[{raw}]' is not a valid IPv6 address") from None
    name = unquote(raw).lower()
    name = name[:-1] if name.endswith(".") else name  # "example.com." is example.com
    if not name or ":" in name or "%" in name:
        raise InvalidUrl(f"host '{raw}' is not a valid host name")
    ipv4 = _parse_ipv4_loose(name)
    return str(ipv4) if ipv4 is not None else _normalise_name(name)


def _split(url: str) -> tuple[SplitResult, str, int]:
    if FORBIDDEN_IN_URL.search(url):
        raise InvalidUrl("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidUrl(f"the URL cannot be parsed: {error}") from None
    scheme = parts.scheme.lower()
    if not scheme:
        raise InvalidUrl("the URL must be absolute and start with http:// or https://")
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedDestination(
            f"scheme '{scheme}' is not allowed: customer APIs are called over http or https only",
            host=parts.hostname or "",
            reason=BlockReason.SCHEME,
        )
    if not parts.netloc:
        raise InvalidUrl("the URL has no host")
    if port == 0:
        raise InvalidUrl("port 0 is not a valid destination port")
    return parts, scheme, port or ALLOWED_SCHEMES[scheme]


def _resolve(host: str, port: int, resolver: Resolver) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass  # a name, not an IP literal: resolve it below
    try:
        infos = resolver(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise DnsFailure(f"could not resolve host '{host}': {error}") from error
    found = dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos)
    if not found:
        raise DnsFailure(f"host '{host}' resolved to no addresses")
    return tuple(found)


def _check_addresses(host: str, port: int, ips: Sequence[IPAddress], allowlist: Allowlist) -> bool:
    """Raise for the first refused address; True when the allow-list was needed.

    Every address is checked, not just the first: a name that resolves to one public
    and one internal address could otherwise be steered to the internal one.
    """
    needed = False
    for ip in ips:
        block = address_block(ip)
        if block is None:
            continue
        if allowlist.permits(host, port) or allowlist.permits(str(ip), port):
            needed = True
            continue
        subject = str(ip) if host == str(ip) else f"'{host}' resolves to {ip}, which is"
        raise BlockedDestination(
            f"{subject} refused ({block.detail}); customer APIs must be public. For an internal "
            f"test server add '{_hostport(host, port)}' to PORTAL_OUTBOUND_ALLOWLIST.",
            host=host,
            reason=block.reason,
            address=str(ip),
        )
    return needed


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def credentials_check(parts: SplitResult) -> None:
    """Refuse ``user:password@`` in a URL: it would be sent, and logged, in the clear."""
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl("credentials in the URL are not supported; configure them as a credential")


def resolve_destination(
    url: str, *, allowlist: Allowlist | Iterable[str], resolver: Resolver = system_resolver
) -> Destination:
    """Check ``url`` against the address policy and pin the IP to connect to.

    Raises InvalidUrl, BlockedDestination or DnsFailure; no socket is opened.
    """
    if not isinstance(allowlist, Allowlist):
        allowlist = Allowlist.from_entries(allowlist)
    parts, scheme, port = _split(url)
    host = normalise_host(parts)
    ips = _resolve(host, port, resolver)
    allowlisted = _check_addresses(host, port, ips, allowlist)
    # Checked after the address so ``http://good@127.0.0.1/`` reports the real problem.
    credentials_check(parts)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(
        scheme=scheme,
        host=host,
        port=port,
        ip=str(ips[0]),
        addresses=tuple(str(ip) for ip in ips),
        target=target,
        allowlisted=allowlisted,
    )


def static_resolver(table: Mapping[str, Sequence[str]]) -> Resolver:
    """A resolver answering from ``table`` (host -> IPs); unknown names fail like DNS.

    For tests and demos that need a public-looking name to land on a local server.
    """

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [_addrinfo(ip, port) for ip in table[host]]

    return resolve


def _addrinfo(ip: str, port: int) -> tuple[Any, ...]:
    if ":" in ip:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))


@dataclass(frozen=True)
class OutboundPolicy:
    """Where calls may go and the default limits they run under."""

    allowlist: Allowlist = field(default_factory=Allowlist)
    resolver: Resolver = system_resolver
    connect_timeout_s: float = 3.0
    deadline_s: float = 10.0
    max_response_bytes: int = 1024 * 1024
    ca_bundle: str | None = None  # a private CA for customers' test environments
    max_redirects: int = 5

    @classmethod
    def from_settings(cls, **overrides: Any) -> OutboundPolicy:
        from django.conf import settings

        values: dict[str, Any] = {
            "allowlist": Allowlist.from_entries(settings.OUTBOUND_ALLOWLIST),
            "connect_timeout_s": settings.OUTBOUND_CONNECT_TIMEOUT_MS / 1000,
            "deadline_s": settings.OUTBOUND_DEADLINE_MS / 1000,
            "max_response_bytes": settings.OUTBOUND_MAX_RESPONSE_BYTES,
        }
        return cls(**{**values, **overrides})

    def resolve(self, url: str) -> Destination:
        return resolve_destination(url, allowlist=self.allowlist, resolver=self.resolver)
