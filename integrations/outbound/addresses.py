"""Which IP addresses a customer API may live at.

Our own table rather than ``ipaddress.is_global`` alone: its answers changed between
Python releases, and the table lets the error say *why* an address is refused.
``is_global`` stays as a last catch-all for anything the table does not name.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from integrations.outbound.errors import BlockReason

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AddressBlock:
    """Why one address is refused: a reason code and words for a person."""

    reason: BlockReason
    detail: str  # a noun phrase, e.g. "loopback address"


def _table(rows: list[tuple[str, BlockReason, str]]) -> list[tuple[_Network, AddressBlock]]:
    return [
        (ipaddress.ip_network(net), AddressBlock(reason, f"{text} address"))
        for net, reason, text in rows
    ]


R = BlockReason
# Order matters: the first match names the reason (metadata before link-local).
_IPV4_BLOCKS = _table(
    [
        ("0.0.0.0/8", R.UNSPECIFIED, "'this network' (0.0.0.0/8)"),
        ("10.0.0.0/8", R.PRIVATE, "private (RFC 1918)"),
        ("100.64.0.0/10", R.PRIVATE, "carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", R.LOOPBACK, "loopback"),
        ("169.254.169.254/32", R.METADATA, "cloud metadata service"),
        ("169.254.0.0/16", R.LINK_LOCAL, "link-local"),
        ("172.16.0.0/12", R.PRIVATE, "private (RFC 1918)"),
        ("192.0.0.0/24", R.RESERVED, "IETF protocol assignment"),
        ("192.0.2.0/24", R.DOCUMENTATION, "documentation (TEST-NET-1)"),
        ("192.88.99.0/24", R.RESERVED, "6to4 relay anycast"),
        ("192.168.0.0/16", R.PRIVATE, "private (RFC 1918)"),
        ("198.18.0.0/15", R.RESERVED, "benchmarking"),
        ("198.51.100.0/24", R.DOCUMENTATION, "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", R.DOCUMENTATION, "documentation (TEST-NET-3)"),
        ("224.0.0.0/4", R.MULTICAST, "multicast"),
        ("255.255.255.255/32", R.BROADCAST, "broadcast"),
        ("240.0.0.0/4", R.RESERVED, "reserved (240.0.0.0/4)"),
    ]
)
_IPV6_BLOCKS = _table(
    [
        ("::/128", R.UNSPECIFIED, "unspecified"),
        ("::1/128", R.LOOPBACK, "loopback"),
        ("::/96", R.RESERVED, "IPv4-compatible IPv6 (deprecated)"),
        ("64:ff9b:1::/48", R.RESERVED, "local-use NAT64 (RFC 8215)"),
        ("100::/64", R.RESERVED, "discard-only"),
        ("2001::/32", R.RESERVED, "Teredo tunnel"),
        ("2001:db8::/32", R.DOCUMENTATION, "documentation"),
        ("2001::/23", R.RESERVED, "IETF protocol assignment"),
        ("3fff::/20", R.DOCUMENTATION, "documentation"),
        ("fd00:ec2::254/128", R.METADATA, "cloud metadata service"),
        ("fc00::/7", R.PRIVATE, "unique local (fc00::/7)"),
        ("fe80::/10", R.LINK_LOCAL, "link-local"),
        ("fec0::/10", R.RESERVED, "site-local (deprecated)"),
        ("ff00::/8", R.MULTICAST, "multicast"),
    ]
)
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")  # SIIT, RFC 2765
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215
# RFC 6052 section 2.2: where each prefix length puts the 32 IPv4 bits, as (first bit,
# bit count) runs. Bits 64-71 are never used; the suffix after the IPv4 bits is zero.
# Inside 64:ff9b:1::/48 the prefix is at least 48 bits long, so /32 and /40 cannot occur.
_RFC6052_LAYOUTS: tuple[tuple[int, tuple[tuple[int, int], ...]], ...] = (
    (48, ((48, 16), (72, 16))),
    (56, ((56, 8), (72, 24))),
    (64, ((72, 32),)),
    (96, ((96, 32),)),
)
_U_OCTET = 0xFF << 56  # bits 64-71
_ISATAP_MARK = 0x5EFE


def _bits(value: int, first: int, count: int) -> int:
    """``count`` bits of a 128-bit value starting at bit ``first`` (0 = most significant)."""
    return (value >> (128 - first - count)) & ((1 << count) - 1)


def _nat64_local_use(value: int) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address under the shortest RFC 6052 layout that fits, for the message.

    The operator's prefix length is not visible in the address, so this is a best
    reading: the whole local-use prefix is refused whatever it yields.
    """
    if value & _U_OCTET:
        return None
    for length, runs in _RFC6052_LAYOUTS:
        end = runs[-1][0] + runs[-1][1]
        if _bits(value, end, 128 - end):
            continue  # the suffix is not zero: not this layout
        ipv4 = 0
        for first, count in runs:
            ipv4 = (ipv4 << count) | _bits(value, first, count)
        return f"local-use NAT64 (/{length} layout)", ipaddress.IPv4Address(ipv4)
    return None


def _isatap(value: int) -> ipaddress.IPv4Address | None:
    """The IPv4 address of an ISATAP interface id (RFC 5214): ``[02]00:5efe:a.b.c.d``.

    Any /64 prefix may carry one; the u/g bits (0x0300) may be set.
    """
    if _bits(value, 80, 16) != _ISATAP_MARK or _bits(value, 64, 16) & ~0x0300:
        return None
    return ipaddress.IPv4Address(value & 0xFFFFFFFF)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """IPv4 addresses an IPv6 address carries, each with the name of its wrapper.

    A wrapper reaches the IPv4 host through a translator, a tunnel or the kernel,
    so ``::ffff:127.0.0.1`` must be judged as 127.0.0.1.
    """
    value = int(ip)
    low32 = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if ip.ipv4_mapped is not None:
        found.append(("IPv4-mapped IPv6", ip.ipv4_mapped))
    elif ip in _IPV4_TRANSLATED:
        found.append(("IPv4-translated IPv6", low32))
    elif ip in _IPV4_COMPATIBLE and value > 1:
        found.append(("IPv4-compatible IPv6", low32))
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip in _NAT64_WELL_KNOWN:
        found.append(("NAT64", low32))
    elif ip in _NAT64_LOCAL_USE and (reading := _nat64_local_use(value)) is not None:
        found.append(reading)
    if ip.teredo is not None:
        server, client = ip.teredo  # the client address is stored bit-inverted
        found += [("Teredo server", server), ("Teredo client", client)]
    if (isatap := _isatap(value)) is not None:
        found.append(("ISATAP", isatap))
    return found


def _lookup(ip: IPAddress) -> AddressBlock | None:
    table = _IPV4_BLOCKS if ip.version == 4 else _IPV6_BLOCKS
    return next((block for net, block in table if ip in net), None)


def address_block(ip: IPAddress) -> AddressBlock | None:
    """Why ``ip`` must not be called, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        for wrapper, inner in embedded_ipv4(ip):
            block = address_block(inner)
            if block is not None:
                detail = f"{wrapper} address wrapping {inner}, a {block.detail}"
                return AddressBlock(block.reason, detail)
    block = _lookup(ip)
    if block is None and not ip.is_global:
        block = AddressBlock(BlockReason.RESERVED, "address that is not globally routable")
    return block
