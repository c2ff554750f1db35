"""Evidence for readiness results, and its redaction into what the report stores.

Checks put live values in their evidence (exchanges, decoded claims, errors). At the
end of the run ``evidence_redacted`` turns it into JSON with every secret the run has
seen hidden: the stored credentials, every token fetched, and anything JWT-shaped.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from integrations.outbound import Exchange, is_sensitive_key, redact_text
from integrations.services.readiness.jwts import DecodedJwt

STORED_BODY_CHARS = 4096  # evidence shows the start of a body; the test call page has more
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9+/=_.~-]{20,}")


def error_evidence(error: Exception) -> dict[str, Any]:
    """What a failed fetch or call shows: its code, its message and the wire if any."""
    evidence: dict[str, Any] = {
        "error_code": getattr(error, "code", type(error).__name__),
        "error": getattr(error, "message", str(error)),
    }
    exchange = getattr(error, "exchange", None)
    if exchange is not None:
        evidence["exchange"] = exchange
    return evidence


def error_message(error: Exception | None) -> str:
    return str(getattr(error, "message", error))


def claims_evidence(decoded: DecodedJwt, *, identity_claim: str) -> dict[str, Any]:
    """A JWT's header and claims to show: the identity claim as it is, secret-looking
    values (long random strings, fields named like secrets) replaced by the marker."""
    claims = {
        key: value if key == identity_claim else _shown_claim(key, value)
        for key, value in decoded.claims.items()
    }
    header = {key: _shown_claim(key, value) for key, value in decoded.header.items()}
    return {"header": header, "claims": claims}


def _shown_claim(key: str, value: Any) -> Any:
    if is_sensitive_key(key):
        return "[REDACTED]"
    if isinstance(value, str) and _looks_random(value):
        return "[REDACTED]"
    if isinstance(value, dict):
        return {k: _shown_claim(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown_claim(key, item) for item in value]
    return value


def _looks_random(value: str) -> bool:
    """Long runs of letters and digits, mixed: the shape of keys, nonces and tokens."""
    if not _TOKEN_LIKE.fullmatch(value):
        return False
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def evidence_redacted(value: Any, *, secrets: list[str]) -> Any:
    """``value`` as JSON-able data with every secret hidden."""
    if isinstance(value, Exchange):
        return _exchange_stored(value.redacted(secrets=secrets))
    if isinstance(value, dict):
        return {str(k): evidence_redacted(v, secrets=secrets) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [evidence_redacted(item, secrets=secrets) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value), secrets=secrets)


def _exchange_stored(exchange: dict[str, Any]) -> dict[str, Any]:
    """The redacted exchange with long bodies cut, so a report stays small."""
    for part in (exchange.get("request"), exchange.get("response")):
        if not isinstance(part, dict):
            continue  # no response: the call failed before one arrived
        body = part.get("body")
        if isinstance(body, str) and len(body) > STORED_BODY_CHARS:
            part["body"] = body[:STORED_BODY_CHARS]
            part["body_truncated_at"] = STORED_BODY_CHARS
    return exchange
