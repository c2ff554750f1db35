"""Reading and verifying customer JWTs with PyJWT, for the readiness checks.

Verification only ever accepts an algorithm from ``ALLOWED_ALGORITHMS`` that fits the
key: HMAC with a shared secret, an asymmetric algorithm with a PEM or JWKS public key.
Tying the algorithm to the key is what stops the old trick of signing with HS256 and a
public key as the "secret", and ``none`` is never in the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from jwt.types import Options

from integrations.errors import PortalError

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
ALLOWED_ALGORITHMS = HMAC_ALGORITHMS | ASYMMETRIC_ALGORITHMS
# Which algorithm families a JWK key type can verify.
_KEY_TYPE_PREFIXES = {"oct": ("HS",), "RSA": ("RS", "PS"), "EC": ("ES",), "OKP": ("EdDSA",)}
# Only signature and shape are judged here; expiry and audience are other checks' business.
_SIGNATURE_ONLY: Options = {
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}


class JwtVerificationError(PortalError):
    """The JWT's signature does not verify with the customer's key, or cannot be checked."""

    code = "jwt_signature_invalid"


@dataclass(frozen=True)
class DecodedJwt:
    """A JWT's header and claims, read without verifying anything."""

    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def algorithm(self) -> str:
        return str(self.header.get("alg", ""))


def jwt_decode_unverified(token: str) -> DecodedJwt | None:
    """The header and claims of ``token``, or None when it is not a JWT."""
    if token.count(".") != 2:
        return None
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    if not isinstance(claims, dict):
        return None
    return DecodedJwt(header=header, claims=claims)


def jwt_verify_with_key(*, token: str, key_text: str) -> str:
    """Verify ``token`` with a PEM public key or a shared secret; returns the algorithm."""
    is_pem = key_text.lstrip().startswith("-----BEGIN")
    allowed = ASYMMETRIC_ALGORITHMS if is_pem else HMAC_ALGORITHMS
    kind = "the PEM public key" if is_pem else "the shared secret"
    return _verify(token, key_text, allowed=allowed, key_name=kind)


def jwt_verify_with_jwks(*, token: str, jwks: Any) -> str:
    """Verify ``token`` with the matching key of a JWKS document; returns the algorithm."""
    try:
        key_set = jwt.PyJWKSet.from_dict(jwks if isinstance(jwks, dict) else {})
    except jwt.PyJWTError:
        # PyJWT's messages can quote the key material: say what is wrong in our words.
        raise JwtVerificationError(
            "The JWKS document holds no usable key (it needs a 'keys' list of JWKs).",
            code="jwks_invalid",
        ) from None
    kid = jwt.get_unverified_header(token).get("kid")
    candidates = [key for key in key_set.keys if kid is None or key.key_id == kid]
    if not candidates:
        raise JwtVerificationError(
            f"The JWKS has no key with the JWT's kid {str(kid)[:60]!r}.", code="jwks_no_key"
        )
    key = candidates[0]
    prefixes = _KEY_TYPE_PREFIXES.get(str(key.key_type), ())
    allowed = frozenset(alg for alg in ALLOWED_ALGORITHMS if alg.startswith(prefixes))
    return _verify(token, key.key, allowed=allowed, key_name=f"the JWKS {key.key_type} key")


def _verify(token: str, key: Any, *, allowed: frozenset[str], key_name: str) -> str:
    algorithm = str(jwt.get_unverified_header(token).get("alg", ""))
    if algorithm not in allowed:
        raise JwtVerificationError(
            f"The JWT uses alg {algorithm[:20]!r}, which is not accepted with {key_name} "
            f"(accepted: {', '.join(sorted(allowed))}).",
            code="jwt_algorithm_refused",
        )
    try:
        jwt.decode(token, key, algorithms=[algorithm], options=_SIGNATURE_ONLY)
    except jwt.InvalidSignatureError:
        raise JwtVerificationError(
            f"The JWT signature ({algorithm}) does not verify with {key_name}."
        ) from None
    except jwt.PyJWTError as error:
        raise JwtVerificationError(
            f"The JWT cannot be verified with {key_name}: {type(error).__name__}.",
            code="jwt_unverifiable",
        ) from None
    return algorithm
