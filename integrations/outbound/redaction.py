"""The one redaction family: logs, stored test calls, API output and curl export all
use these functions, so a secret hidden in one place is hidden everywhere.

Two layers: by *position* (credential headers and headers named like one, sensitive
JSON/form/query keys, URL userinfo) and by *value* (every known secret in every spelling
an echo may give it, see ``secret_forms``, wherever it appears). JWT-shaped strings are
hidden by value too, since the customer identifier may be a JWT carried under any name.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from integrations.json_limits import REPLY_MAX_DEPTH, json_loads_bounded
from integrations.outbound.secret_forms import SecretMatcher

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
# Words of a field or header name that say its value is a credential (x-auth-token,
# clientSecret, static_session_id), unless the last word says it only describes one.
_SECRET_WORDS = frozenset(
    {
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "session",
        "sessionid",
        "jwt",
        "cookie",
        "authorization",
        "auth",
        "apikey",
        "credential",
        "credentials",
    }
)
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key")})
_DESCRIPTIVE_LAST_WORDS = frozenset(
    {"type", "url", "uri", "field", "name", "expires", "expiry", "in", "at", "mode", "style"}
)
# Headers named like credentials that carry none: challenges and CORS flags.
_NOT_CREDENTIAL_HEADERS = frozenset(
    {"www-authenticate", "proxy-authenticate", "access-control-allow-credentials"}
)
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Scheme words worth keeping in front of a hidden credential ("Bearer [REDACTED]").
# Only known words: the first word of an arbitrary value could be part of the secret.
AUTH_SCHEMES = frozenset(
    {"basic", "bearer", "digest", "jwt", "token", "negotiate", "dpop", "mac", "apikey", "oauth"}
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# "Bearer <token>" in free text (logs, curl commands). The token must hold a digit so
# prose such as "Basic authentication failed" survives.
_SCHEME_TOKEN = re.compile(
    r"\b(Bearer|Basic|JWT|Token)(\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}",
    re.IGNORECASE,
)
Secrets = Iterable[str] | SecretMatcher
"""Secret values, or a ``SecretMatcher`` built from them once for many texts."""


def _has_secret_words(words: list[str]) -> bool:
    if not words or words[-1] in _DESCRIPTIVE_LAST_WORDS:
        return False
    pairs = set(itertools.pairwise(words))
    return bool(_SECRET_WORDS.intersection(words) or _SECRET_PAIRS & pairs)


def is_sensitive_key(key: str) -> bool:
    """Whether a JSON, form or query field (or a header) of this name holds a secret."""
    normalised = key.strip().lower().replace("-", "_")
    if normalised in SENSITIVE_KEYS or normalised.endswith(_SENSITIVE_SUFFIXES):
        return True
    return _has_secret_words([word.lower() for word in _WORD.findall(key)])


def is_credential_header(name: str) -> bool:
    """Whether a header of this name carries a credential (standard or named like one)."""
    lowered = name.strip().lower()
    if lowered in _NOT_CREDENTIAL_HEADERS:
        return False
    return lowered in CREDENTIAL_HEADERS or is_sensitive_key(name)


def secret_matcher(secrets: Secrets) -> SecretMatcher:
    """``secrets`` compiled once, for a caller about to redact many texts with them."""
    return secrets if isinstance(secrets, SecretMatcher) else SecretMatcher(secrets)


def redact_text(text: str, *, secrets: Secrets = ()) -> str:
    """``text`` with every known secret (in any usual spelling, see ``secret_forms``), any
    JWT and any ``Bearer <token>``-style credential replaced."""
    text = secret_matcher(secrets).hide(text, MARKER)
    text = _SCHEME_TOKEN.sub(lambda m: f"{m[1]}{m[2]}{MARKER}", text)
    return _JWT.sub(MARKER, text)


def _mask_cookie_pairs(value: str) -> str:
    pairs = [pair.strip().partition("=") for pair in value.split(";") if pair.strip()]
    return "; ".join(f"{name}={MARKER}" if sep else MARKER for name, sep, _ in pairs)


def _mask_credential(name: str, value: str, secrets: SecretMatcher) -> str:
    lowered = name.lower()
    if lowered == "cookie":
        return _mask_cookie_pairs(value)
    if lowered == "set-cookie":
        # The attributes (Path, Expires, HttpOnly) help debug cookie sessions; the value never.
        first, sep, attributes = value.partition(";")
        return _mask_cookie_pairs(first) + (sep + redact_text(attributes, secrets=secrets))
    scheme, _, rest = value.strip().partition(" ")
    if rest.strip() and scheme.lower() in AUTH_SCHEMES:
        return f"{scheme} {MARKER}"
    return MARKER


def _redact_header(
    name: str, value: str, secret_names: frozenset[str], secrets: SecretMatcher
) -> str:
    if name.lower() in secret_names or is_credential_header(name):
        return _mask_credential(name, value, secrets)
    return redact_text(value, secrets=secrets)


@overload
def redact_headers(
    headers: Mapping[str, str], *, secrets: Secrets = (), sensitive: Iterable[str] = ()
) -> dict[str, str]: ...
@overload
def redact_headers(
    headers: Iterable[tuple[str, str]],
    *,
    secrets: Secrets = (),
    sensitive: Iterable[str] = (),
) -> list[tuple[str, str]]: ...
def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    secrets: Secrets = (),
    sensitive: Iterable[str] = (),
) -> dict[str, str] | list[tuple[str, str]]:
    """Credential headers (standard, named like one, or ``sensitive``) keep their scheme
    word only; other headers have known secrets removed. A mapping gives a dict, pairs
    give pairs."""
    secret_names = CREDENTIAL_HEADERS | {name.lower() for name in sensitive}
    matcher = secret_matcher(secrets)
    if isinstance(headers, Mapping):
        return {k: _redact_header(k, v, secret_names, matcher) for k, v in headers.items()}
    return [(k, _redact_header(k, v, secret_names, matcher)) for k, v in headers]


def _redact_json(value: Any, secrets: SecretMatcher) -> Any:
    if isinstance(value, dict):
        return {
            # A flag under a credential-like name (auth_required: true) hides nothing.
            key: MARKER
            if is_sensitive_key(str(key)) and item is not None and not isinstance(item, bool)
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


def redact_body(body: bytes | str, content_type: str = "", *, secrets: Secrets = ()) -> str:
    """A displayable body: JSON and form fields by name, then every secret by value.

    A body that is not UTF-8 is summarised, since we cannot vouch for what it hides.
    """
    secrets = secret_matcher(secrets)
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            return f"[binary body, {len(body)} bytes]"
    kind = content_type.split(";", 1)[0].strip().lower()
    if _is_json_type(kind) or (not kind and body.lstrip()[:1] in ("{", "[")):
        try:
            data = json_loads_bounded(body, max_depth=REPLY_MAX_DEPTH)
        except ValueError:
            return redact_text(body, secrets=secrets)
        return json.dumps(_redact_json(data, secrets), ensure_ascii=False)
    if kind == "application/x-www-form-urlencoded":
        return redact_text(_redact_pairs(body), secrets=secrets)
    return redact_text(body, secrets=secrets)


def redact_url(url: str, *, secrets: Secrets = ()) -> str:
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


def _redact_sent(
    request: SentRequest, secrets: SecretMatcher, sensitive: frozenset[str]
) -> dict[str, Any]:
    content_type = next((v for k, v in request.headers if k.lower() == "content-type"), "")
    return {
        "method": request.method,
        "url": redact_url(request.url, secrets=secrets),
        "headers": redact_headers(request.headers, secrets=secrets, sensitive=sensitive),
        "body": redact_body(request.body, content_type, secrets=secrets),
    }


class _BothMatchers(SecretMatcher):
    """A caller's matcher (compiled once for many texts) and an exchange's own secrets."""

    def __init__(self, *matchers: SecretMatcher) -> None:
        super().__init__()
        self._matchers = [matcher for matcher in matchers if matcher]

    def __bool__(self) -> bool:
        return bool(self._matchers)

    def hide(self, text: str, marker: str) -> str:
        for matcher in self._matchers:
            text = matcher.hide(text, marker)
        return text


def _exchange_matcher(exchange: Exchange, secrets: Secrets) -> SecretMatcher:
    """The caller's secrets plus those read from the exchange (a token the fetch kept)."""
    if not exchange.sensitive_values:
        return secret_matcher(secrets)
    if isinstance(secrets, SecretMatcher):
        return _BothMatchers(secrets, SecretMatcher(exchange.sensitive_values))
    return SecretMatcher([*secrets, *exchange.sensitive_values])


def redact_exchange(exchange: Exchange, *, secrets: Secrets = ()) -> dict[str, Any]:
    """The whole exchange as a JSON-able dict with every secret hidden, those the exchange
    carries as ``sensitive_values`` included."""
    secrets = _exchange_matcher(exchange, secrets)  # every spelling compiled once
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
