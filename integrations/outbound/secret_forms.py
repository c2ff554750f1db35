"""Finding known secrets in text, in every spelling an echo may give them.

A customer API that echoes what it received may do so upper-cased, hex-encoded,
base64-encoded (alone or inside ``client_id:secret``), percent- or JSON-escaped,
reversed, or spelled out one character at a time ("s e c r e t", one per line, with
dashes). ``SecretMatcher`` compiles every such spelling of every secret into one
pattern, once, so a whole exchange is scrubbed with one pass per text.

Secrets shorter than ``MIN_SECRET_LENGTH`` are refused at save time. One stored
before that rule is matched only as a whole token, as-is (start or end of text,
whitespace, a quote or a delimiter on both sides): hunting it inside words and
encodings would turn ``application/json`` into ``application/[REDACTED]``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable

MIN_SECRET_LENGTH = 8
# What may stand between the characters of a spelled-out secret: the same run between
# every pair (a back-reference), so ordinary punctuation never stitches one together.
_SEPARATOR = r"(?:[\s._:,;|/+*-]|\\[nrt]|%(?:20|09|0a|0d)){1,3}"
_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
_TOKEN_DELIMITERS = r"\s\"'=&;,<>()\[\]{}"


def _char_forms(char: str) -> str:
    """One character as a regex: itself, percent-encoded, form-encoded or JSON-escaped."""
    raw = char.encode()
    forms = {re.escape(char), "".join(f"%{byte:02x}" for byte in raw)}
    # Case changes that alter the length (the ligature ﬀ upper-cases to FF) escape
    # IGNORECASE, which compares one character with one character.
    forms |= {re.escape(cased) for cased in (char.upper(), char.lower(), char.casefold())}
    escaped = json.dumps(char)[1:-1]
    if escaped != char:
        forms.add(re.escape(escaped))
    if len(char) == 1 and ord(char) <= 0xFFFF:
        forms.add(re.escape(f"\\u{ord(char):04x}"))  # serialisers that escape <, >, & and more
    if char == " ":
        forms.add(r"\+")
    if char == "/":
        forms.add(r"\\/")
    return forms.pop() if len(forms) == 1 else "(?:" + "|".join(sorted(forms)) + ")"


def _spelled(value: str, group: str) -> str:
    """``value`` with each character in any of its forms, optionally split by a separator."""
    chars = [_char_forms(char) for char in value]
    separator = f"(?P<{group}>{_SEPARATOR}|)"
    return chars[0] + separator + f"(?P={group})".join(chars[1:])


def _base64_cores(raw: bytes) -> set[str]:
    """The base64 characters that depend only on ``raw``, at each of the three offsets it
    may have inside a longer encoded value (``Basic base64(client_id:secret)``)."""
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + raw).decode()
        first, end = -(-8 * offset // 6), 8 * (offset + len(raw)) // 6
        core = encoded[first:end]
        cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


def _short_token(value: str) -> str:
    """A legacy short secret, as-is and only as a whole token."""
    before, after = f"(?<![^{_TOKEN_DELIMITERS}])", f"(?![^{_TOKEN_DELIMITERS}])"
    return f"(?-i:{before}{re.escape(value)}{after})"


class SecretMatcher:
    """Every spelling of some secrets as one compiled pattern; build once, use for a whole
    exchange. Empty when there are no secrets (then ``hide`` returns the text unchanged)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        encoded: set[str] = set()
        spelled: list[str] = []
        for index, value in enumerate(values):
            if len(value) < MIN_SECRET_LENGTH:
                spelled.append(_short_token(value))
                continue
            encoded |= _base64_cores(value.encode())
            spelled += [_spelled(value, f"f{index}"), _spelled(value[::-1], f"r{index}")]
            spelled.append(value.encode().hex())
        self._pattern: re.Pattern[str] | None = None
        if values:
            b64 = "|".join(re.escape(core) for core in sorted(encoded, key=len, reverse=True))
            # A lookahead finds a match at every position, so one secret overlapping
            # another cannot shield the other's tail from being hidden.
            alternatives = ([f"(?P<b64>(?-i:{b64}))"] if b64 else []) + spelled
            self._pattern = re.compile(f"(?=(?P<hit>{'|'.join(alternatives)}))", re.IGNORECASE)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def hide(self, text: str, marker: str) -> str:
        """``text`` with every match (a base64 match widened to its whole run) replaced."""
        if self._pattern is None or not text:
            return text
        spans = [self._span(text, match) for match in self._pattern.finditer(text)]
        if not spans:
            return text
        pieces, position = [], 0
        for start, end in _merged(spans):
            pieces += [text[position:start], marker]
            position = end
        return "".join(pieces) + text[position:]

    @staticmethod
    def _span(text: str, match: re.Match[str]) -> tuple[int, int]:
        start, end = match.span("hit")
        if match.groupdict().get("b64") is None:
            return start, end
        # The characters next to a base64 core also carry bits of the secret.
        while start > 0 and text[start - 1] in _BASE64_ALPHABET:
            start -= 1
        while end < len(text) and (text[end] in _BASE64_ALPHABET or text[end] == "="):
            end += 1
        return start, end


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif end > start:
            merged.append((start, end))
    return merged
