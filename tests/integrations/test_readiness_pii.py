"""The PII detector on a corpus of identifiers: opaque ones, and ones hiding personal data.

Opaque identifiers come from a seeded random generator, so the corpus is the same on
every run. ``pytest -s`` prints the confusion counts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from urllib.parse import quote

import pytest

from integrations.services.readiness.pii import luhn_valid, pii_find, pii_in_claims

SEED = 20240611


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def hexed(text: str) -> str:
    return text.encode().hex()


def fake_jwt(claims: dict, rng: random.Random | None = None) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}))
    signature = base64.urlsafe_b64encode((rng or random.Random(SEED)).randbytes(32))
    return f"{header}.{b64url(json.dumps(claims))}.{signature.decode().rstrip('=')}"


def opaque_corpus() -> list[str]:
    """Identifiers a careful customer would issue: hashes, UUIDs, random base64, JWTs."""
    RNG = random.Random(SEED)
    corpus = [hashlib.sha256(RNG.randbytes(16)).hexdigest() for _ in range(12)]
    corpus += [str(uuid.UUID(int=RNG.getrandbits(128), version=4)) for _ in range(10)]
    corpus += [base64.b64encode(RNG.randbytes(32)).decode() for _ in range(10)]
    corpus += [base64.urlsafe_b64encode(RNG.randbytes(24)).decode() for _ in range(5)]
    corpus += [f"cust_{RNG.getrandbits(64):016x}" for _ in range(3)]
    corpus += [
        fake_jwt(
            {
                "sub": hashlib.sha256(RNG.randbytes(8)).hexdigest(),
                "iat": 1700000000,
                "exp": 1700028799,
                "jti": RNG.randbytes(16).hex(),
                "iss": "https://login.bank.example",
            },
            RNG,
        )
        for _ in range(3)
    ]
    return corpus


PII_CORPUS: list[tuple[str, str]] = [
    # e-mail addresses, plain and encoded
    ("email", "alice.smith@example.com"),
    ("email", b64("jdoe@corp.example")),
    ("email", b64url("x9@mail.example.org")),
    ("email", hexed("q.r.s@example.net")),
    ("email", quote("someone+tag@example.com", safe="")),
    ("email", json.dumps({"id": 7, "contact": "p.q@example.io"})),
    ("email", fake_jwt({"sub": "u-1", "email": "user1@example.com"})),
    ("email", b64(quote("zz@example.co.uk", safe=""))),
    ("email", "user_" + hexed("k@example.org")),
    # phone numbers
    ("phone", "+14155550123"),
    ("phone", "tel:+44 20 7946 0958"),
    ("phone", "(415) 555-0199"),
    ("phone", b64("+33142685300")),
    ("phone", json.dumps({"phone_number": "555 010 9999"})),
    ("phone", hexed("+61 2 9374 4000")),
    ("phone", quote("+49 30 901820", safe="")),
    # payment card numbers (Luhn-valid test numbers)
    ("card", "4111111111111111"),
    ("card", "5500-0000-0000-0004"),
    ("card", b64("378282246310005")),
    ("card", b64url("acct:6011111111111117")),
    ("card", hexed("4012 8888 8888 1881")),
    ("card", json.dumps({"ref": "4242424242424242"})),
    # national ID numbers
    ("national_id", "123-45-6789"),
    ("national_id", b64("ssn:219-09-9999")),
    ("national_id", "JG 10 37 59 A"),
    ("national_id", hexed("046 454 286")),
    # names
    ("name", "alice"),
    ("name", "JohnSmith"),
    ("name", b64("maria.garcia")),
    ("name", b64url("customer:patel")),
    ("name", hexed("olivia")),
    ("name", quote("Wei Zhang", safe="")),
    ("name", json.dumps({"given_name": "Xyz"})),
    ("name", fake_jwt({"sub": "robert_jones42"})),
    ("name", "USER-SOPHIA-7"),
]


def test_the_corpus_is_big_enough() -> None:
    assert len(opaque_corpus()) + len(PII_CORPUS) >= 50
    assert {kind for kind, _ in PII_CORPUS} == {"email", "phone", "card", "national_id", "name"}


def test_no_pii_is_missed_and_opaque_identifiers_rarely_flagged() -> None:
    opaque = opaque_corpus()
    missed = [(kind, value) for kind, value in PII_CORPUS if kind not in pii_find(value)]
    flagged = [(value, pii_find(value)) for value in opaque if pii_find(value)]
    true_positives = len(PII_CORPUS) - len(missed)
    true_negatives = len(opaque) - len(flagged)
    print(
        f"\nPII detector confusion: TP={true_positives} FN={len(missed)} "
        f"FP={len(flagged)} TN={true_negatives}"
    )
    assert missed == []
    assert len(flagged) <= 2, flagged


@pytest.mark.parametrize(
    ("number", "valid"),
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True)],
)
def test_luhn_checksum(number: str, valid: bool) -> None:
    assert luhn_valid(number) is valid


def test_a_card_number_failing_luhn_is_not_a_card() -> None:
    assert "card" not in pii_find("4111111111111112")


def test_timestamps_in_claims_are_not_card_numbers() -> None:
    claims = {"iat": 1570733606449, "exp": 1570733606449, "sub": "a1b2c3"}
    assert pii_in_claims(claims) == {}


def test_claims_are_reported_one_by_one() -> None:
    claims = {"sub": "9f2c", "email": "a@example.com", "name": "Bob Brown", "iss": "bank"}
    assert pii_in_claims(claims) == {"email": ["email"], "name": ["name"]}


def test_an_issuer_url_with_a_name_in_its_host_is_not_a_name() -> None:
    assert pii_find("https://alice.bank.example/oauth") == set()
