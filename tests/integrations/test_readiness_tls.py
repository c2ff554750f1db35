"""The production TLS check against local TLS servers: http, self-signed, trusted, refused."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integrations.choices import EnvironmentKind
from integrations.models import Endpoint, Environment
from tests.factories import make_environment
from tests.integrations.outbound_servers import HostileServer, make_tls, ok_json
from tests.integrations.readiness_support import one

pytestmark = pytest.mark.django_db

HOST = "127.0.0.9"  # the address make_tls puts in its certificates


def production(url: str) -> Environment:
    return make_environment(base_url=url, kind=EnvironmentKind.PRODUCTION)


def self_signed_context(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "self.pem").write_bytes(certificate.public_bytes(pem))
    (directory / "self.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "self.pem", directory / "self.key")
    return context


@pytest.fixture
def tls_server(settings: Any) -> Iterator[Any]:
    """Start a TLS server on HOST with the given context, allow-listed."""
    servers: list[HostileServer] = []

    def start(context: ssl.SSLContext) -> HostileServer:
        server = HostileServer(ok_json, host=HOST, tls=context)
        servers.append(server)
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        return server

    yield start
    for server in servers:
        server.close()


def test_tls_is_not_applicable_on_the_uat_sandbox(demo_endpoint: Endpoint) -> None:
    result = one(demo_endpoint.environment, "transport.tls")
    assert result["verdict"] == "not_applicable"


def test_tls_fails_for_production_over_plain_http(demo_endpoint: Endpoint) -> None:
    environment = demo_endpoint.environment
    environment.kind = EnvironmentKind.PRODUCTION
    environment.save()
    result = one(environment, "transport.tls")
    assert result["verdict"] == "fail" and "plain http" in result["message"]
    assert result["fix"].startswith("Serve production over HTTPS")


def test_tls_fails_for_a_self_signed_certificate(tls_server: Any, tmp_path: Path) -> None:
    server = tls_server(self_signed_context(tmp_path))
    result = one(production(server.url(scheme="https")), "transport.tls")
    assert result["verdict"] == "fail"
    assert result["message"].startswith("The certificate is not valid: self")
    assert result["evidence"]["error_code"] == "certificate_invalid"


def test_tls_fails_for_a_certificate_from_an_untrusted_ca(tls_server: Any, tmp_path: Path) -> None:
    context, _ = make_tls(tmp_path, "api.customer.example", days=90)
    server = tls_server(context)
    result = one(production(server.url(scheme="https")), "transport.tls")
    assert result["verdict"] == "fail" and "not valid" in result["message"]


def test_tls_passes_with_a_trusted_certificate_and_a_modern_version(
    tls_server: Any, tmp_path: Path, settings: Any
) -> None:
    context, ca_file = make_tls(tmp_path, "api.customer.example", days=90)
    settings.READINESS_TLS_CA_BUNDLE = ca_file
    server = tls_server(context)
    result = one(production(server.url(scheme="https")), "transport.tls")
    assert result["verdict"] == "pass", result
    assert result["evidence"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert result["evidence"]["peer_ip"] == HOST


def test_tls_warns_for_a_certificate_about_to_expire(
    tls_server: Any, tmp_path: Path, settings: Any
) -> None:
    context, ca_file = make_tls(tmp_path, "api.customer.example", days=1)
    settings.READINESS_TLS_CA_BUNDLE = ca_file
    server = tls_server(context)
    result = one(production(server.url(scheme="https")), "transport.tls")
    assert result["verdict"] == "warn" and "expires in" in result["message"]


def test_tls_respects_the_outbound_address_policy(
    tls_server: Any, tmp_path: Path, settings: Any
) -> None:
    server = tls_server(self_signed_context(tmp_path))
    settings.OUTBOUND_ALLOWLIST = []
    result = one(production(server.url(scheme="https")), "transport.tls")
    assert result["verdict"] == "fail" and "refused" in result["message"]
    assert server.accepted == 0


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_tls_fails_for_a_server_that_offers_only_tls_1_1(
    tls_server: Any, tmp_path: Path, settings: Any
) -> None:
    context, ca_file = make_tls(tmp_path, "api.customer.example", days=90)
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS 1.1 at higher levels
    settings.READINESS_TLS_CA_BUNDLE = ca_file
    server = tls_server(context)
    result = one(production(server.url(scheme="https")), "transport.tls")
    assert result["verdict"] == "fail", result
    assert result["message"] == "The server does not offer TLS 1.2 or newer."
