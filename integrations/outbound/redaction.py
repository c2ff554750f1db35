"""The one redaction family: logs, stored test calls, API output and curl export all
use these functions, so a secret hidden in one place is hidden everywhere.

Two layers: by *position* (credential headers, sensitive JSON/form/query keys, URL
userinfo) and by *value* (every known secret, plus its URL-encoded, JSON-escaped and
base64 forms, wherever it appears). JWT-shaped strings are hidden by value too,
since the customer identifier may be a JWT carried under any field name.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit, urlunsplit

if TYPE_CHECKING:
    from integrations.outbound.exchange import Exchange, SentRequest

MARKER = "[REDACTED]"
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "customer-auth",
        "api-key",
        "x-api-key",
        "cookie",
        "set-cookie",
    }
)
SENSITIVE_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "jwt",
        "token",
        "client_secret",
        "password",
        "passwd",
        "api_key",
        "apikey",
        "secret",
        "session",
        "session_id",
        "sessionid",
        "cookie",
        "authorization",
        "customer_auth",
        "private_key",
    }
)
_SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "_api_key", "_apikey")
# Scheme words worth keeping in front of a hidden credential ("Bearer [REDACTED]").
# Only known words: the first word of an arbitrary value could be part of the secret.
_AUTH_SCHEMES = frozenset(
    {"basic", "bearer", "digest", "jwt", "token", "negotiate", "dpop", "mac", "apikey", "oauth"}
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# "Bearer <token>" in free text (logs, curl commands). The token must hold a digit so
# prose such as "Basic authentication failed" survives.
_SCHEME_TOKEN = re.compile(
    r"\b(Bearer|Basic|JWT|Token)(\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}",
    re.IGNORECASE,
)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


def is_sensitive_key(key: str) -> bool:
    """Whether a JSON, form or query field of this name holds a secret (case-insensitive)."""
    normalised = key.strip().lower().replace("-", "_")
    return normalised in SENSITIVE_KEYS or normalised.endswith(_SENSITIVE_SUFFIXES)


def _secret_forms(secrets: Iterable[str]) -> list[str]:
    """Every spelling of each secret we may meet in text, longest first so a secret
    containing a shorter one is hidden whole."""
    forms: set[str] = set()
    for secret in secrets:
        raw = secret.encode()
        forms |= {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
        # Unpadded, so the form also matches where padding was stripped (JWT, URLs).
        encoded = (base64.b64encode(raw), base64.urlsafe_b64encode(raw))
        forms |= {form.decode().rstrip("=") for form in encoded}
    return sorted((form for form in forms if form), key=len, reverse=True)


def _hides_secret(run: str, secrets: list[bytes]) -> bool:
    """Whether a base64-looking run decodes to bytes containing a secret: catches
    ``Basic base64(client_id:secret)`` whatever the secret's offset inside it.

    Base64 decodes in independent 4-character groups, so trying the four start offsets
    finds an encoded value even when other base64-alphabet text precedes it.
    """
    standard = run.rstrip("=").replace("-", "+").replace("_", "/")
    for offset in range(4):
        chunk = standard[offset:]
        if len(chunk) % 4 == 1:
            chunk = chunk[:-1]  # a lone trailing character cannot be decoded
        try:
            decoded = base64.b64decode(chunk + "=" * (-len(chunk) % 4))
        except binascii.Error:
            continue
        if any(secret in decoded for secret in secrets):
            return True
    return False


def redact_text(text: str, *, secrets: Iterable[str] = ()) -> str:
    """``text`` with every known secret (in any usual encoding), any JWT and any
    ``Bearer <token>``-style credential replaced."""
    secrets = [s for s in secrets if s]
    if secrets:
        raw = [s.encode() for s in secrets]
        text = _BASE64_RUN.sub(lambda m: MARKER if _hides_secret(m[0], raw) else m[0], text)
        for form in _secret_forms(secrets):
            text = text.replace(form, MARKER)
    text = _SCHEME_TOKEN.sub(lambda m: f"{m[1]}{m[2]}{MARKER}", text)
    return _JWT.sub(MARKER, text)


def _mask_cookie_pairs(value: str) -> str:
    pairs = [pair.strip().partition("=") for pair in value.split(";") if pair.strip()]
    return "; ".join(f"{name}={MARKER}" if sep else MARKER for name, sep, _ in pairs)


def _mask_credential(name: str, value: str, secrets: Iterable[str]) -> str:
    lowered = name.lower()
    if lowered == "cookie":
        return _mask_cookie_pairs(value)
    if lowered == "set-cookie":
        # The attributes (Path, Expires, HttpOnly) help debug cookie sessions; the value never.
        first, sep, attributes = value.partition(";")
        return _mask_cookie_pairs(first) + (sep + redact_text(attributes, secrets=secrets))
    scheme, _, rest = value.strip().partition(" ")
    if rest.strip() and scheme.lower() in _AUTH_SCHEMES:
        return f"{scheme} {MARKER}"
    return MARKER


def _redact_header(name: str, value: str, secret_names: frozenset[str], secrets: list[str]) -> str:
    if name.lower() in secret_names:
        return _mask_credential(name, value, secrets)
    return redact_text(value, secrets=secrets)


@overload
def redact_headers(
    headers: Mapping[str, str], *, secrets: Iterable[str] = (), sensitive: Iterable[str] = ()
) -> dict[str, str]: ...
@overload
def redact_headers(
    headers: Iterable[tuple[str, str]],
    *,
    secrets: Iterable[str] = (),
    sensitive: Iterable[str] = (),
) -> list[tuple[str, str]]: ...
def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    secrets: Iterable[str] = (),
    sensitive: Iterable[str] = (),
) -> dict[str, str] | list[tuple[str, str]]:
    """Credential headers (standard and ``sensitive``) keep their scheme word only;
    other headers have known secrets removed. A mapping gives a dict, pairs give pairs."""
    secret_names = CREDENTIAL_HEADERS | {name.lower() for name in sensitive}
    secrets = list(secrets)
    if isinstance(headers, Mapping):
        return {k: _redact_header(k, v, secret_names, secrets) for k, v in headers.items()}
    return [(k, _redact_header(k, v, secret_names, secrets)) for k, v in headers]


def _redact_json(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, dict):
        return {
            key: MARKER
            if is_sensitive_key(str(key)) and item is not None
            else _redact_json(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(item, secrets) for item in value]
    if isinstance(value, str):
        return redact_text(value, secrets=secrets)
    return value


def _redact_pairs(encoded: str, separator: str = "&") -> str:
    """Hide the values of sensitive keys in ``a=1&b=2`` text, leaving the rest as written."""
    parts = []
    for part in encoded.split(separator):
        key, sep, _ = part.partition("=")
        parts.append(f"{key}={MARKER}" if sep and is_sensitive_key(unquote_plus(key)) else part)
    return separator.join(parts)


def _is_json_type(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def redact_body(body: bytes | str, content_type: str = "", *, secrets: Iterable[str] = ()) -> str:
    """A displayable body: JSON and form fields by name, then every secret by value.

    A body that is not UTF-8 is summarised, since we cannot vouch for what it hides.
    """
    secrets = list(secrets)
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return f"[binary body, {len(body)} bytes]"
    kind = content_type.split(";", 1)[0].strip().lower()
    if _is_json_type(kind) or (not kind and body.lstrip()[:1] in ("{", "[")):
        try:
            data = json.loads(body)
        except ValueError:
            return redact_text(body, secrets=secrets)
        return json.dumps(_redact_json(data, secrets), ensure_ascii=False)
    if kind == "application/x-www-form-urlencoded":
        return redact_text(_redact_pairs(body), secrets=secrets)
    return redact_text(body, secrets=secrets)


def redact_url(url: str, *, secrets: Iterable[str] = ()) -> str:
    """``url`` without userinfo, sensitive query or fragment values, or known secrets.

    The fragment matters: OAuth implicit flows put an access_token there.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MARKER}@{netloc.rpartition('@')[2]}"
    query, fragment = _redact_pairs(parts.query), _redact_pairs(parts.fragment)
    rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
    return redact_text(rebuilt, secrets=secrets)


def _redact_sent(request: SentRequest, secrets: list[str], sensitive: frozenset[str]) -> dict:
    content_type = next((v for k, v in request.headers if k.lower() == "content-type"), "")
    return {
        "method": request.method,
        "url": redact_url(request.url, secrets=secrets),
        "headers": redact_headers(request.headers, secrets=secrets, sensitive=sensitive),
        "body": redact_body(request.body, content_type, secrets=secrets),
    }


def redact_exchange(exchange: Exchange, *, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The whole exchange as a JSON-able dict with every secret hidden."""
    secrets = list(secrets)
    sensitive = exchange.sensitive_headers
    response = None
    if exchange.status is not None:
        response = {
            "status": exchange.status,
            "reason": exchange.reason,
            "headers": redact_headers(exchange.headers, secrets=secrets, sensitive=sensitive),
            "body": redact_body(exchange.body, exchange.content_type, secrets=secrets),
            "size": len(exchange.body),
            "truncated": exchange.truncated,
        }
    return {
        "request": _redact_sent(exchange.request, secrets, sensitive),
        "redirects": [
            {
                "request": _redact_sent(hop.request, secrets, sensitive),
                "status": hop.status,
                "location": redact_url(hop.location, secrets=secrets),
                "peer_ip": hop.peer_ip,
                "dropped_headers": list(hop.dropped_headers),
            }
            for hop in exchange.redirects
        ],
        "response": response,
        "elapsed_ms": round(exchange.elapsed_ms, 1),
        "ttfb_ms": None if exchange.ttfb_ms is None else round(exchange.ttfb_ms, 1),
        "peer_ip": exchange.peer_ip,
    }
