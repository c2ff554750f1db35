"""The address policy: what the outbound edge refuses to call, before any socket opens."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import quote

import pytest

from integrations.outbound import (
    Allowlist,
    BlockedDestination,
    BlockReason,
    DnsFailure,
    InvalidUrl,
    OutboundPolicy,
    OutboundRequest,
    resolve_destination,
    send,
    static_resolver,
)
from integrations.outbound.addresses import address_block
from tests.integrations.outbound_servers import (
    HostileServer,
    ok_json,
    recording_connects,
    redirect_to_query,
)

R = BlockReason
ATTACKER_DNS = static_resolver(
    {
        "localhost": ["127.0.0.1", "::1"],
        "localtest.attacker.example": ["127.0.0.1"],
        "metadata.attacker.example": ["169.254.169.254"],
        "mapped.attacker.example": ["::ffff:169.254.169.254"],
        "v6.attacker.example": ["::1"],
        "mixed.attacker.example": ["93.184.216.34", "10.0.0.5"],
        "api.customer.example": ["93.184.216.34"],
    }
)

# {port} is a live canary server on 127.0.0.1: if any of these reached a socket, it would
# count the connection.
SSRF_DESTINATIONS = [
    # loopback, spelled every way a resolver or browser accepts
    ("http://127.0.0.1:{port}/", R.LOOPBACK),
    ("http://2130706433:{port}/", R.LOOPBACK),
    ("http://0x7f000001:{port}/", R.LOOPBACK),
    ("http://0x7f.1:{port}/", R.LOOPBACK),
    ("http://017700000001:{port}/", R.LOOPBACK),
    ("http://0177.0.0.1:{port}/", R.LOOPBACK),
    ("http://127.1:{port}/", R.LOOPBACK),
    ("http://127.0.1:{port}/", R.LOOPBACK),
    ("http://127.000.000.001:{port}/", R.LOOPBACK),
    ("http://127.0.0.1.:{port}/", R.LOOPBACK),
    ("http://%31%32%37.0.0.1:{port}/", R.LOOPBACK),
    ("http://[::1]:{port}/", R.LOOPBACK),
    ("http://[::ffff:127.0.0.1]:{port}/", R.LOOPBACK),
    ("http://[0:0:0:0:0:ffff:7f00:1]:{port}/", R.LOOPBACK),
    ("http://[::127.0.0.1]:{port}/", R.LOOPBACK),
    ("http://[2002:7f00:1::1]:{port}/", R.LOOPBACK),
    ("http://example.com@127.0.0.1:{port}/", R.LOOPBACK),
    ("http://localhost:{port}/", R.LOOPBACK),
    ("http://LOCALHOST.:{port}/", R.LOOPBACK),
    ("http://%6c%6f%63%61%6c%68%6f%73%74:{port}/", R.LOOPBACK),
    ("http://localtest.attacker.example:{port}/", R.LOOPBACK),
    ("http://v6.attacker.example:{port}/", R.LOOPBACK),
    ("http://0:{port}/", R.UNSPECIFIED),
    ("http://0.0.0.0:{port}/", R.UNSPECIFIED),
    ("http://[::]:{port}/", R.UNSPECIFIED),
    # the cloud metadata service, directly and wrapped
    ("http://169.254.169.254/latest/meta-data/", R.METADATA),
    ("http://2852039166/", R.METADATA),
    ("http://0xa9fea9fe/", R.METADATA),
    ("http://0251.0376.0251.0376/", R.METADATA),
    ("http://169.254.43518/", R.METADATA),
    ("http://[::ffff:169.254.169.254]/", R.METADATA),
    ("http://[::ffff:a9fe:a9fe]/", R.METADATA),
    ("http://[64:ff9b::169.254.169.254]/", R.METADATA),
    ("http://[64:ff9b:1::a9fe:a9fe]/", R.METADATA),
    ("http://[2002:a9fe:a9fe::1]/", R.METADATA),
    ("http://[2001:0:4136:e378:8000:63bf:5601:5601]/", R.METADATA),
    ("http://[fd00:ec2::254]/", R.METADATA),
    ("http://metadata.attacker.example/", R.METADATA),
    ("http://mapped.attacker.example/", R.METADATA),
    ("http://169.254.1.1/", R.LINK_LOCAL),
    # private, shared and special-purpose ranges
    ("http://10.0.0.1/", R.PRIVATE),
    ("http://172.16.5.4/", R.PRIVATE),
    ("http://192.168.1.1/", R.PRIVATE),
    ("http://100.64.0.1/", R.PRIVATE),
    ("http://100.127.255.254/", R.PRIVATE),
    ("http://[fc00::1]/", R.PRIVATE),
    ("http://[fe80::1]/", R.LINK_LOCAL),
    ("http://[fe80::1%25eth0]/", R.LINK_LOCAL),
    ("http://224.0.0.1/", R.MULTICAST),
    ("http://[ff02::1]/", R.MULTICAST),
    ("http://255.255.255.255/", R.BROADCAST),
    ("http://240.0.0.1/", R.RESERVED),
    ("http://192.0.2.10/", R.DOCUMENTATION),
    ("http://[2001:db8::1]/", R.DOCUMENTATION),
    ("http://mixed.attacker.example/", R.PRIVATE),
    # schemes other than http(s)
    ("file:///etc/passwd", R.SCHEME),
    ("gopher://127.0.0.1:70/_GET%20/", R.SCHEME),
    ("ftp://api.customer.example/", R.SCHEME),
    ("ws://api.customer.example/", R.SCHEME),
    ("wss://api.customer.example/", R.SCHEME),
    ("dict://127.0.0.1:11211/stat", R.SCHEME),
    ("ldap://127.0.0.1/", R.SCHEME),
    ("javascript:alert(1)", R.SCHEME),
]
# IPv6 forms that a translator or tunnel turns back into an IPv4 address. Checked with
# resolve_destination only: were one let through, a connect would leave this machine.
TRANSLATED_DESTINATIONS = [
    ("http://[::ffff:0:7f00:1]/", R.LOOPBACK),  # IPv4-translated (SIIT)
    ("http://[::ffff:0:127.0.0.1]/", R.LOOPBACK),
    ("http://[::ffff:0:a9fe:a9fe]/", R.METADATA),
    ("http://[64:ff9b:1:7f00:0:100::]/", R.LOOPBACK),  # local-use NAT64, /48 layout
    ("http://[64:ff9b:1:7f:0:1::]/", R.LOOPBACK),  # /56 layout
    ("http://[64:ff9b:1:0:a9:fea9:fe00:0]/", R.METADATA),  # /64 layout
    ("http://[64:ff9b:1:0:a:0:100:0]/", R.PRIVATE),
    ("http://[64:ff9b:1::808:808]/", R.RESERVED),  # local-use NAT64 is refused whatever it wraps
    ("http://[::5efe:127.0.0.1]/", R.LOOPBACK),  # ISATAP interface id
    ("http://[fe80::200:5efe:a9fe:a9fe]/", R.METADATA),
    ("http://[2606:4700::5efe:10.0.0.1]/", R.PRIVATE),
    ("http://[2606:4700::200:5efe:192.168.0.1]/", R.PRIVATE),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", R.LOOPBACK),  # Teredo client
    ("http://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/", R.RESERVED),  # Teredo to a public host
]
REDIRECT_TARGETS = [
    ("http://169.254.169.254/latest/meta-data/", R.METADATA),
    ("http://0x7f.1:{port}/", R.LOOPBACK),
    ("http://[::ffff:127.0.0.1]:{port}/", R.LOOPBACK),
    ("http://metadata.attacker.example/", R.METADATA),
    ("http://10.0.0.1/", R.PRIVATE),
    ("file:///etc/passwd", R.SCHEME),
    ("gopher://127.0.0.1:{port}/_x", R.SCHEME),
]


@pytest.fixture(scope="module")
def canary():
    server = HostileServer(ok_json)
    yield server
    server.close()


@pytest.fixture(scope="module")
def redirector():
    server = HostileServer(redirect_to_query)
    yield server
    server.close()


def test_there_are_at_least_forty_ssrf_destinations():
    assert len(SSRF_DESTINATIONS) >= 40


@pytest.mark.parametrize(("template", "reason"), SSRF_DESTINATIONS)
def test_ssrf_destination_is_blocked_before_any_socket_connects(canary, template, reason):
    url = template.format(port=canary.port)
    policy = OutboundPolicy(resolver=ATTACKER_DNS)
    with recording_connects() as attempts, pytest.raises(BlockedDestination) as caught:
        send(OutboundRequest("GET", url), policy=policy)
    assert caught.value.reason == reason
    assert attempts == []
    assert canary.accepted == 0


@pytest.mark.parametrize(("url", "reason"), TRANSLATED_DESTINATIONS)
def test_an_ipv6_form_of_an_internal_ipv4_address_is_refused_like_the_ipv4_form(url, reason):
    with pytest.raises(BlockedDestination) as caught:
        OutboundPolicy().resolve(url)
    assert caught.value.reason == reason


@pytest.mark.parametrize(("template", "reason"), REDIRECT_TARGETS)
def test_redirect_to_ssrf_destination_is_blocked_before_connecting(
    canary, redirector, template, reason
):
    target = template.format(port=canary.port)
    url = redirector.url(f"/start?to={quote(target, safe='')}")
    policy = OutboundPolicy(
        allowlist=Allowlist.from_entries([redirector.hostport]), resolver=ATTACKER_DNS
    )
    with recording_connects() as attempts, pytest.raises(BlockedDestination) as caught:
        send(OutboundRequest("GET", url, follow_redirects=True), policy=policy)
    assert caught.value.reason == reason
    # Only the allow-listed redirector is ever dialled (or its pooled socket reused).
    assert set(attempts) <= {("127.0.0.1", redirector.port)}
    assert redirector.requests[-1].target.startswith("/start?to=")
    assert canary.accepted == 0
    assert caught.value.exchange is not None
    assert [hop.status for hop in caught.value.exchange.redirects] == [302]


def test_blocked_destination_message_says_how_to_allow_a_test_server():
    with pytest.raises(BlockedDestination) as caught:
        resolve_destination("http://localhost:8001/x", allowlist=[], resolver=ATTACKER_DNS)
    assert "'localhost:8001'" in caught.value.message
    assert "PORTAL_OUTBOUND_ALLOWLIST" in caught.value.message
    assert caught.value.address == "127.0.0.1"


def test_an_encoding_of_loopback_does_not_match_an_allowlisted_localhost():
    with pytest.raises(BlockedDestination):
        resolve_destination(
            "http://0x7f.1:8001/", allowlist=["localhost:8001"], resolver=ATTACKER_DNS
        )


def test_allowlisted_host_may_resolve_to_loopback_on_every_address():
    destination = resolve_destination(
        "http://LocalHost.:8001/token", allowlist=["localhost:8001"], resolver=ATTACKER_DNS
    )
    assert destination.allowlisted
    assert (destination.host, destination.ip, destination.addresses) == (
        "localhost",
        "127.0.0.1",
        ("127.0.0.1", "::1"),
    )


def test_an_encoding_of_an_allowlisted_ip_is_the_same_host_and_port():
    destination = resolve_destination("http://2130706433:8001/", allowlist=["127.0.0.1:8001"])
    assert destination.host == "127.0.0.1"
    assert destination.allowlisted


def test_allowlist_entries_are_bound_to_their_port():
    with pytest.raises(BlockedDestination):
        resolve_destination("http://127.0.0.1:8002/", allowlist=["127.0.0.1:8001"])


def test_a_public_name_may_resolve_to_an_allowlisted_ip_and_port():
    resolver = static_resolver({"api.customer.example": ["127.0.0.1"]})
    destination = resolve_destination(
        "https://api.customer.example:8443/x", allowlist=["127.0.0.1:8443"], resolver=resolver
    )
    assert (destination.host, destination.ip, destination.port) == (
        "api.customer.example",
        "127.0.0.1",
        8443,
    )


def test_the_host_is_resolved_exactly_once():
    calls = []

    def resolver(host, port, *args, **kwargs):
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    resolve_destination("https://api.customer.example/", allowlist=[], resolver=resolver)
    assert calls == ["api.customer.example"]


def test_ip_literals_are_never_sent_to_the_resolver():
    def resolver(*args, **kwargs):
        raise AssertionError("resolver called for an IP literal")

    assert resolve_destination("http://8.8.8.8/", allowlist=[], resolver=resolver).ip == "8.8.8.8"


def test_unknown_host_is_a_dns_failure():
    with pytest.raises(DnsFailure, match=r"nowhere\.example"):
        resolve_destination("https://nowhere.example/", allowlist=[], resolver=ATTACKER_DNS)


@pytest.mark.parametrize(
    "url",
    [
        "http://1.2.3.4.5/",
        "http://256.1.1.1/",
        "http://0x100000000/",
        "http://08.1.1.1/",
        "http://exa mple.com/",
        "http://bad\\host.example/",
        "http:///path-only",
        "http://api.customer.example:99999/",
        "http://[::1/",
        "http://under%2fscore.example/",
        "api.customer.example/no-scheme",
        "http://user:pass@api.customer.example/",
    ],
)
def test_malformed_or_ambiguous_urls_are_invalid(url):
    with pytest.raises(InvalidUrl):
        resolve_destination(url, allowlist=[], resolver=ATTACKER_DNS)


def test_international_names_are_converted_to_idna_before_lookup():
    resolver = static_resolver({"xn--bcher-kva.example": ["93.184.216.34"]})
    destination = resolve_destination("https://BÜCHER.example/", allowlist=[], resolver=resolver)
    assert destination.host == "xn--bcher-kva.example"


def test_destination_keeps_the_name_for_host_and_the_ip_for_the_connection():
    resolver = static_resolver({"api.customer.example": ["2606:4700::1111"]})
    destination = resolve_destination(
        "https://api.customer.example:8443/v1/x?a=1#frag", allowlist=[], resolver=resolver
    )
    assert destination.netloc == "api.customer.example:8443"
    assert destination.url == "https://api.customer.example:8443/v1/x?a=1"
    assert destination.pinned_url == "https://[2606:4700::1111]:8443/v1/x?a=1"


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "93.184.216.34",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "::ffff:0:808:808",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "2606:4700::200:5efe:808:808",
    ],
)
def test_public_addresses_are_allowed(address):
    assert address_block(ipaddress.ip_address(address)) is None


def test_malformed_allowlist_entries_fail_loudly():
    with pytest.raises(ValueError, match="no port"):
        Allowlist.from_entries(["sandbox.local"])


def test_policy_from_settings_reads_the_outbound_settings(settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1:8001", "localhost:8001"]
    settings.OUTBOUND_DEADLINE_MS = 2500
    policy = OutboundPolicy.from_settings()
    assert policy.allowlist.permits("localhost", 8001)
    assert policy.deadline_s == 2.5
    assert policy.max_response_bytes == settings.OUTBOUND_MAX_RESPONSE_BYTES
