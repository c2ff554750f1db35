"""Spotting personal data in a customer identifier: pure functions, no network.

The guide asks for an opaque identifier: "hashed, encoded and/or encrypted so that when
used by itself, it is of no value". Encoding is not hiding, so ``pii_find`` looks at the
text and at every layer it can decode from it (percent-encoding, base64, base64url, hex,
JSON, the segments of a JWT), a few levels deep, and reports the kinds it finds:
``email``, ``phone``, ``card`` (Luhn-valid, 13-19 digits), ``national_id`` (US SSN, UK
NINO, Canadian SIN) and ``name`` (a bundled list of common names, see names.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from integrations.json_limits import REPLY_MAX_DEPTH, json_loads_bounded
from integrations.services.readiness.names import NAMES

EMAIL, PHONE, CARD, NATIONAL_ID, NAME = "email", "phone", "card", "national_id", "name"
KINDS = (EMAIL, PHONE, CARD, NATIONAL_ID, NAME)

MAX_DEPTH = 3  # decoding steps: base64 of percent-encoded hex is as deep as we go
MAX_LAYERS = 64  # decoded texts per input, so a hostile value cannot make us spin

_L, _R = r"(?<![A-Za-z0-9])", r"(?![A-Za-z0-9])"  # not glued to other letters or digits
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE_INTERNATIONAL = re.compile(_L + r"\+\d[\d .()/-]{6,20}\d" + _R)
_PHONE_NANP = re.compile(_L + r"(?:\(\d{3}\)\s?|\d{3}[ .-])\d{3}[ .-]\d{4}" + _R)
_DIGIT_RUN = re.compile(_L + r"\d(?:[ -]?\d){12,18}" + _R)
_SSN = re.compile(_L + r"(\d{3})[- ](\d{2})[- ](\d{4})" + _R)
_SIN = re.compile(_L + r"\d{3}[- ]\d{3}[- ]\d{3}" + _R)
_NINO = re.compile(_L + r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]" + _R)
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){4,}")
_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
_CAMEL_CASE = re.compile(r"[A-Z]?[a-z]+(?:[A-Z][a-z]+)+")

# Claim or field names that are personal data whatever their value looks like.
KEY_KINDS = {
    **dict.fromkeys(("email", "e_mail", "mail", "email_address"), EMAIL),
    **dict.fromkeys(("phone", "phone_number", "mobile", "msisdn", "telephone"), PHONE),
    **dict.fromkeys(("card_number", "pan", "cc_number", "credit_card"), CARD),
    **dict.fromkeys(
        ("ssn", "sin", "nino", "national_id", "tax_id", "passport", "passport_number"),
        NATIONAL_ID,
    ),
    **dict.fromkeys(
        (
            "name",
            "given_name",
            "family_name",
            "middle_name",
            "first_name",
            "last_name",
            "full_name",
            "nickname",
            "preferred_username",
        ),
        NAME,
    ),
}
# Numeric claims that are times: a 13-digit epoch in milliseconds is not a card number.
_TIME_KEYS = frozenset({"iat", "exp", "nbf", "auth_time", "issued_at", "expires_in"})


def pii_find(text: str, *, depth: int = MAX_DEPTH) -> set[str]:
    """The kinds of personal data in ``text`` or in any layer decoded from it."""
    found: set[str] = set()
    for layer in decoded_layers(text, depth=depth):
        parsed = _json_container(layer)
        found |= _scan_json(parsed, depth) if parsed is not None else _scan_text(layer)
    return found


def pii_in_claims(claims: dict[str, Any]) -> dict[str, list[str]]:
    """Per claim of a JWT payload (or any JSON object), the kinds of personal data in it."""
    findings = {}
    for key, value in claims.items():
        kinds = _scan_json({key: value}, MAX_DEPTH)
        if kinds:
            findings[key] = sorted(kinds)
    return findings


def decoded_layers(text: str, *, depth: int = MAX_DEPTH) -> list[str]:
    """``text`` and the printable texts decoded from it, breadth first, without repeats."""
    layers, seen, frontier = [text], {text}, [text]
    for _ in range(depth):
        following = []
        for layer in frontier:
            if _json_container(layer) is not None:
                continue  # JSON is walked value by value in _scan_json
            for decoded in _decodings(layer):
                if decoded not in seen and len(layers) < MAX_LAYERS:
                    seen.add(decoded)
                    layers.append(decoded)
                    following.append(decoded)
        frontier = following
    return layers


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that payment card numbers (and Canadian SINs) carry."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _decodings(text: str) -> Iterator[str]:
    if "%" in text and (unquoted := unquote(text)) != text:
        yield unquoted
    for run in dict.fromkeys(_B64_RUN.findall(text)):
        yield from _printable(_b64decode(run))
        # Hex may sit between separators that are also base64url characters: "id-616c…".
        for piece in dict.fromkeys(re.split(r"[-_+/=]", run)):
            if _HEX.fullmatch(piece):
                yield from _printable(bytes.fromhex(piece))


def _b64decode(run: str) -> bytes:
    standard = run.rstrip("=").replace("-", "+").replace("_", "/")
    if len(standard) % 4 == 1:
        return b""  # not a whole number of bytes: not base64
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4))
    except (binascii.Error, ValueError):
        return b""


def _printable(raw: bytes) -> Iterator[str]:
    """The bytes as text when they read as text: random bytes almost never do."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return
    readable = sum(char.isprintable() or char.isspace() for char in text)
    if len(text) >= 3 and readable >= 0.9 * len(text):
        yield text


def _json_container(text: str) -> Any:
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        value = json_loads_bounded(stripped, max_depth=REPLY_MAX_DEPTH)
    except ValueError:
        return None
    return value if isinstance(value, dict | list) else None


def _scan_json(value: Any, depth: int, key: str = "") -> set[str]:
    if isinstance(value, dict):
        found: set[str] = set()
        for child_key, child in value.items():
            kind = KEY_KINDS.get(str(child_key).lower().replace("-", "_"))
            if kind and child not in (None, "", [], {}):
                found.add(kind)
            found |= _scan_json(child, depth, str(child_key).lower())
        return found
    if isinstance(value, list):
        return set().union(*(_scan_json(item, depth, key) for item in value))
    if isinstance(value, str):
        return pii_find(value, depth=depth)
    if isinstance(value, int | float) and not isinstance(value, bool) and key not in _TIME_KEYS:
        return _scan_text(str(value))
    return set()


def _scan_text(text: str) -> set[str]:
    checks = {
        EMAIL: lambda: bool(_EMAIL.search(text)),
        PHONE: lambda: _has_phone(text),
        CARD: lambda: _has_card(text),
        NATIONAL_ID: lambda: _has_national_id(text),
        NAME: lambda: _has_name(text),
    }
    return {kind for kind, check in checks.items() if check()}


def _has_phone(text: str) -> bool:
    for match in _PHONE_INTERNATIONAL.finditer(text):
        if 8 <= sum(char.isdigit() for char in match[0]) <= 15:
            return True
    return bool(_PHONE_NANP.search(text))


def _has_card(text: str) -> bool:
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", match[0])
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def _has_national_id(text: str) -> bool:
    for area, group, serial in _SSN.findall(text):
        if area not in ("000", "666") and not area.startswith("9") and group != "00":
            if serial != "0000":
                return True
    if any(luhn_valid(re.sub(r"\D", "", match)) for match in _SIN.findall(text)):
        return True
    return bool(_NINO.search(text))


def _has_name(text: str) -> bool:
    if text.lstrip().lower().startswith(("http://", "https://")):
        return False  # host names in issuer URLs are not people
    return any(word in NAMES for token in _SEPARATORS.split(text) for word in _words(token))


def _words(token: str) -> list[str]:
    """Lower-case words of a token: ``alice``, ``Alice42``, ``ALICE``, ``AliceSmith``.

    Mixed-case tokens that are not clean camel case (``aLiCe``, most base64) are skipped.
    """
    letters = token.rstrip("0123456789")
    if len(letters) < 3 or not letters.isalpha():
        return []
    if _CAMEL_CASE.fullmatch(letters):
        return [word.lower() for word in re.findall(r"[A-Z]?[a-z]+", letters)]
    if letters.islower() or letters.isupper() or letters.istitle():
        return [letters.lower()]
    return []
