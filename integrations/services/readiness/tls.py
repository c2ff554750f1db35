"""Readiness check: production is served over HTTPS, with a valid certificate, TLS 1.2+.

The probe is a bare TLS handshake with the standard library, not an HTTP call, so it
can report the negotiated version and the certificate. It still obeys the outbound
address policy: the host is resolved and checked by ``OutboundPolicy`` first and the
socket connects to that checked IP, while SNI and the certificate check use the name.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from integrations.choices import EnvironmentKind
from integrations.errors import PortalError
from integrations.outbound import OutboundError, OutboundPolicy
from integrations.services.readiness.context import ReadinessContext
from integrations.services.readiness.evidence import error_evidence
from integrations.services.readiness.results import Check, CheckResult, Verdict

CERTIFICATE_WARN_DAYS = 14  # a certificate this close to expiry is a warning
_OLD_PROTOCOL_REASONS = ("UNSUPPORTED_PROTOCOL", "PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE")


class TlsProbeFailed(PortalError):
    """The TLS handshake failed; ``code`` says how (certificate, version, handshake, connect)."""

    code = "tls_failed"


@dataclass(frozen=True)
class TlsProbe:
    """What one successful handshake showed."""

    version: str
    cipher: str
    peer_ip: str
    subject: str
    issuer: str
    not_after: datetime | None


def tls_probe(*, url: str, timeout_s: float, ca_bundle: str | None = None) -> TlsProbe:
    """Handshake with the host of ``url`` (TLS 1.2 at least) and verify its certificate."""
    destination = OutboundPolicy.from_settings().resolve(url)
    context = ssl.create_default_context(cafile=ca_bundle or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        with socket.create_connection((destination.ip, destination.port), timeout_s) as raw:
            with context.wrap_socket(raw, server_hostname=destination.host) as tls:
                return _probe(tls, destination.ip)
    except ssl.SSLCertVerificationError as error:
        raise TlsProbeFailed(
            f"The certificate is not valid: {error.verify_message}.", code="certificate_invalid"
        ) from None
    except ssl.SSLError as error:
        raise _handshake_failure(error) from None
    except OSError as error:
        raise TlsProbeFailed(
            f"Could not connect to {destination.netloc}: {error.strerror or error}.",
            code="connect_failed",
        ) from None


def _handshake_failure(error: ssl.SSLError) -> TlsProbeFailed:
    reason = str(error.reason or "")
    if any(part in reason for part in _OLD_PROTOCOL_REASONS):
        return TlsProbeFailed(
            "The server does not offer TLS 1.2 or newer.", code="tls_version_too_old"
        )
    return TlsProbeFailed(f"The TLS handshake failed ({reason or error}).", code="tls_handshake")


def _probe(tls: ssl.SSLSocket, peer_ip: str) -> TlsProbe:
    certificate: dict[str, Any] = tls.getpeercert() or {}
    not_after = certificate.get("notAfter")
    cipher = tls.cipher()
    return TlsProbe(
        version=tls.version() or "",
        cipher=cipher[0] if cipher else "",
        peer_ip=peer_ip,
        subject=_name(certificate.get("subject", ())),
        issuer=_name(certificate.get("issuer", ())),
        not_after=(
            datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), tz=UTC)
            if not_after
            else None
        ),
    )


def _name(rdns: Any) -> str:
    return ", ".join(f"{key}={value}" for rdn in rdns for key, value in rdn)


def tls_check(check: Check, ctx: ReadinessContext) -> list[CheckResult]:
    environment = ctx.environment
    target = environment.base_url
    if environment.kind != EnvironmentKind.PRODUCTION:
        message = "Only production environments must use HTTPS; this one is not production."
        return [check.result(Verdict.NOT_APPLICABLE, target=target, message=message)]
    if urlsplit(environment.base_url).scheme.lower() != "https":
        message = "The production base URL uses plain http."
        return [check.result(Verdict.FAIL, target=target, message=message)]
    try:
        probe = tls_probe(
            url=environment.base_url,
            timeout_s=environment.connect_timeout_ms / 1000,
            ca_bundle=settings.READINESS_TLS_CA_BUNDLE,
        )
    except (TlsProbeFailed, OutboundError) as error:
        return [
            check.result(
                Verdict.FAIL, target=target, message=error.message, evidence=error_evidence(error)
            )
        ]
    return [_judge_probe(check, target, probe)]


def _judge_probe(check: Check, target: str, probe: TlsProbe) -> CheckResult:
    evidence = {
        "version": probe.version,
        "cipher": probe.cipher,
        "peer_ip": probe.peer_ip,
        "subject": probe.subject,
        "issuer": probe.issuer,
        "not_after": probe.not_after,
    }
    if probe.not_after is not None:
        days = (probe.not_after - datetime.now(UTC)).days
        if days < CERTIFICATE_WARN_DAYS:
            message = f"{probe.version}, valid certificate, but it expires in {days} day(s)."
            fix = "Renew the TLS certificate before it expires."
            return check.result(
                Verdict.WARN, target=target, message=message, fix=fix, evidence=evidence
            )
    message = f"{probe.version} with a valid certificate."
    return check.result(Verdict.PASS, target=target, message=message, evidence=evidence)
