"""Any secret of 8 or more characters, in any spelling an echo may give it, embedded in
any text, never survives redaction; text without a secret comes out unchanged.

The spellings are restated here rather than imported: the test is the oracle. Examples
are derandomised so every CI run checks the same ones.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.outbound import MARKER, redact_body, redact_text
from integrations.outbound.secret_forms import MIN_SECRET_LENGTH, SecretMatcher

PROPERTY = settings(max_examples=300, derandomize=True, deadline=None)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


SPELLINGS: dict[str, Callable[[str], str]] = {
    "as is": lambda s: s,
    "upper": str.upper,
    "lower": str.lower,
    "swapped case": str.swapcase,
    "hex": lambda s: s.encode().hex(),
    "HEX": lambda s: s.encode().hex().upper(),
    "base64": lambda s: b64(s.encode()),
    "base64 unpadded": lambda s: b64(s.encode()).rstrip("="),
    "base64url": lambda s: b64url(s.encode()),
    "base64url unpadded": lambda s: b64url(s.encode()).rstrip("="),
    "basic auth": lambda s: "Basic " + b64(f"portal-client:{s}".encode()),
    "base64 after one byte": lambda s: b64(f"x{s}".encode()),
    "base64url after two bytes": lambda s: b64url(f"ab{s}!".encode()).rstrip("="),
    "percent": lambda s: quote(s, safe=""),
    "percent, slashes kept": quote,
    "form": quote_plus,
    "json": lambda s: json.dumps(s)[1:-1],
    "json ascii": lambda s: json.dumps(s, ensure_ascii=True)[1:-1],
    "reversed": lambda s: s[::-1],
    "spaced": lambda s: " ".join(s),
    "one per line": lambda s: "\n".join(s),
    "dashed": lambda s: "-".join(s),
    "dotted, reversed": lambda s: ".".join(reversed(s)),
}

secrets_8_plus = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
    min_size=MIN_SECRET_LENGTH,
    max_size=40,
).filter(lambda s: len(s.strip()) >= MIN_SECRET_LENGTH)
any_text = st.text(max_size=60)


@PROPERTY
@given(
    secret=secrets_8_plus,
    spelling=st.sampled_from(sorted(SPELLINGS)),
    before=any_text,
    after=any_text,
)
def test_no_secret_of_eight_characters_survives_in_any_spelling(
    secret: str, spelling: str, before: str, after: str
) -> None:
    echoed = SPELLINGS[spelling](secret)
    redacted = redact_text(f"{before}{echoed}{after}", secrets=[secret])
    assert echoed not in redacted
    assert MARKER in redacted


@PROPERTY
@given(secret=secrets_8_plus, spelling=st.sampled_from(sorted(SPELLINGS)))
def test_a_secret_echoed_in_a_json_body_is_hidden_there_too(secret: str, spelling: str) -> None:
    echoed = SPELLINGS[spelling](secret)
    body = json.dumps({"note": f"you sent {echoed}", "echo": [echoed]})
    redacted = redact_body(body, "application/json", secrets=[secret])
    assert echoed not in redacted and json.dumps(echoed)[1:-1] not in redacted


# Ordinary text uses only a-m and punctuation; secrets always hold a letter from n-z.
# So no spelling above of any such secret can occur in the text by chance.
ordinary_text = st.text(alphabet="abcdefghijklm ,.;:()/\n", max_size=200)
unrelated_secrets = st.lists(
    st.text(alphabet="nopqrstuvwxyz0123456789_-", min_size=MIN_SECRET_LENGTH, max_size=30).filter(
        lambda s: any("n" <= c <= "z" for c in s)
    ),
    min_size=1,
    max_size=5,
)


words = st.lists(st.text(alphabet="abcdefghijklm", min_size=3, max_size=12), min_size=1)


@PROPERTY
@given(
    text_words=words,
    punctuation=st.sampled_from([" ", ", ", "; ", "/", "\n", " (", ": "]),
    long_secrets=unrelated_secrets,
    data=st.data(),
)
def test_text_holding_no_secret_comes_out_unchanged(
    text_words: list[str], punctuation: str, long_secrets: list[str], data: st.DataObject
) -> None:
    """Long secrets that do not occur, and a short legacy one that occurs only inside a
    word (``json`` in ``application/json`` is the same case), change nothing."""
    word = data.draw(st.sampled_from(text_words))
    start = data.draw(st.integers(1, len(word) - 2))
    end = data.draw(st.integers(start + 1, min(len(word) - 1, start + MIN_SECRET_LENGTH - 1)))
    inner = word[start:end]  # shorter than a secret may now be: a legacy value
    text = punctuation.join(text_words)
    if inner in text_words:
        return  # standing alone it is a whole token, and hidden: not this property
    assert redact_text(text, secrets=[*long_secrets, inner]) == text


def test_a_short_legacy_secret_is_hidden_only_as_a_whole_token() -> None:
    text = "content-type: application/json; charset=utf-8; jsonp; /v1/json/schema"
    assert redact_text(text, secrets=["json"]) == text
    # Standing alone, as a whole value or word, it is still hidden.
    assert redact_text('{"key": "json"} and json', secrets=["json"]) == (
        f'{{"key": "{MARKER}"}} and {MARKER}'
    )


def test_a_secret_overlapping_another_is_hidden_whole() -> None:
    first, second = "aaaa1111bbbb", "bbbb2222cccc"
    redacted = redact_text("x aaaa1111bbbb2222cccc y", secrets=[first, second])
    assert redacted == f"x {MARKER} y"


def test_one_matcher_serves_many_texts_and_an_empty_one_changes_nothing() -> None:
    matcher = SecretMatcher(["canary-secret-1"])
    assert [redact_text(t, secrets=matcher) for t in ("canary-secret-1", "ok")] == [MARKER, "ok"]
    assert not SecretMatcher([]) and SecretMatcher([]).hide("text", MARKER) == "text"
