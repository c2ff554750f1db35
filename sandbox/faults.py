"""Fault knobs: how the sandbox misbehaves on purpose.

A :class:`Faults` value is immutable; changing knobs builds a new one with :meth:`Faults.merged`,
which checks every name and value first, so a bad request changes nothing. To add a knob,
add one field with ``knob(parser, "what it does")``; the HTTP control route, the
``SANDBOX_FAULTS`` variable and ``RunningSandbox.set_faults`` pick it up from there.

Faults on the business route (``/account/getprofile``) come in two groups. *Gateway* faults
(``reset_connection``, ``html_error``, ``html_ok``, ``status_429_retry_after``,
``redirect_to``, ``error_rate``) act before any credential check, as a proxy in front of
the API would. *Body* faults (``endless_body``, ``oversized_body_bytes``, ``malformed_json``,
``drip_bytes_per_s``) shape the answer to an otherwise successful, fully authenticated call.

*Contract* faults (``jwt_pii``, ``identity_per_login``, ``shared_identity``, ``jwt_alg_none``,
``omit_expires_in``, ``jwt_exp_skew_s``, ``accept_missing``, ``token_endpoint_lenient``) break
one requirement of the guide each, so the portal's readiness report can be shown failing.
``token_field`` and ``token_type`` reshape the token answer (an opaque token under another
name, a non-Bearer type) to show what the portal reveals of an answer it refuses.
*Customer shape* knobs (``session_cookie``, ``login_html``) make cookie mode look like a web
login that differs from the guide: a random session id, an HTML answer with the cookie.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.config import AUTH_MODES, SandboxConfig

Parser = Callable[[object], Any]

TOKEN_RESPONSE_STYLES = ("guide", "rfc")
# Names accepted by the ``reject`` knob, one per credential the sandbox checks.
REJECTABLE = ("client", "user", "bearer", "customer_auth", "api_key")
# Credentials of the business call that ``accept_missing`` can stop checking.
BUSINESS_CREDENTIALS = ("bearer", "api_key", "customer_auth")
# Where ``jwt_pii`` puts the test user's e-mail address in the customer JWT.
JWT_PII_MODES = ("email", "sub")
# How ``token_endpoint_lenient`` answers a wrong client secret.
LENIENT_TOKEN_ANSWERS = ("token", "500")
# What the session cookie of cookie mode carries: the JWT itself, or a random session id.
SESSION_COOKIE_STYLES = ("jwt", "opaque")


class KnobError(ValueError):
    """A fault knob is unknown or has a value it cannot take; the message names it."""


def knob(parser: Parser, doc: str) -> dict[str, object]:
    """Field metadata marking a dataclass field as a fault knob."""
    return {"parser": parser, "doc": doc}


def non_negative_int(value: object) -> int:
    """Accept a JSON integer that is zero or more (``True`` is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be an integer >= 0")
    return value


def optional_positive_int(value: object) -> int | None:
    """Accept ``null`` (knob off) or an integer above zero."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError("must be null or an integer > 0")
    return value


def probability(value: object) -> float:
    """Accept a number between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError("must be a number between 0 and 1")
    return float(value)


def error_status(value: object) -> int:
    """Accept an HTTP error status, 400 to 599."""
    if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
        raise ValueError("must be an HTTP status between 400 and 599")
    return value


def boolean(value: object) -> bool:
    """Accept a JSON boolean only, so ``"false"`` cannot switch a fault on by accident."""
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def choice(*options: str) -> Parser:
    """Build a parser accepting exactly one of ``options``."""

    def parse(value: object) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return str(value)

    return parse


def integer(value: object) -> int:
    """Accept any JSON integer, negative included (``True`` is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    return value


def optional_choice(*options: str) -> Parser:
    """Build a parser accepting ``null`` (knob off) or exactly one of ``options``."""
    parse_option = choice(*options)

    def parse(value: object) -> str | None:
        return None if value is None else parse_option(value)

    return parse


def optional_url(value: object) -> str | None:
    """Accept ``null`` (knob off) or an absolute http(s) URL."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValueError("must be null or an absolute http:// or https:// URL")
    return value


def optional_field_name(value: object) -> str | None:
    """Accept ``null`` (knob off) or a JSON field name: letters, digits, ``_`` and ``-``."""
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise ValueError("must be null or a field name of letters, digits, _ and -")
    return value


def token_type_name(value: object) -> str:
    """Accept a token type word such as ``Bearer`` or ``mac``."""
    if not isinstance(value, str) or not value.isalnum():
        raise ValueError("must be a word of letters and digits")
    return value


def names_from(*allowed: str) -> Parser:
    """Build a parser accepting a list of names drawn from ``allowed`` (duplicates dropped)."""

    def parse(value: object) -> tuple[str, ...]:
        if not isinstance(value, list | tuple) or not all(item in allowed for item in value):
            raise ValueError(f"must be a list drawn from {', '.join(allowed)}")
        return tuple(dict.fromkeys(value))

    return parse


credential_names = names_from(*REJECTABLE)


@dataclass(frozen=True)
class Faults:
    """The current set of fault knobs; defaults mean a well-behaved API."""

    latency_ms: int = field(
        default=0, metadata=knob(non_negative_int, "delay before answering any API route")
    )
    error_rate: float = field(
        default=0.0, metadata=knob(probability, "share of business calls answered error_status")
    )
    error_status: int = field(default=503, metadata=knob(error_status, "status used by error_rate"))
    malformed_json: bool = field(
        default=False, metadata=knob(boolean, "business route answers 200 with broken JSON")
    )
    oversized_body_bytes: int = field(
        default=0, metadata=knob(non_negative_int, "business route answers a body this big")
    )
    token_lifetime_s: int = field(
        default=28799, metadata=knob(non_negative_int, "lifetime of access tokens and JWTs")
    )
    token_response_style: str = field(
        default="guide",
        metadata=knob(choice(*TOKEN_RESPONSE_STYLES), "guide: strings; rfc: integer expires_in"),
    )
    token_field: str | None = field(
        default=None,
        metadata=knob(optional_field_name, "token answers carry the token under this name"),
    )
    token_type: str = field(
        default="Bearer",
        metadata=knob(token_type_name, "the token_type of token answers (mac: not Bearer)"),
    )
    auth_mode: str = field(
        default="token", metadata=knob(choice(*AUTH_MODES), "token: JWT; cookie: session cookie")
    )
    session_cookie: str = field(
        default="jwt",
        metadata=knob(
            choice(*SESSION_COOKIE_STYLES),
            "cookie mode: the cookie is the JWT, or an opaque random session id (opaque)",
        ),
    )
    login_html: bool = field(
        default=False,
        metadata=knob(
            boolean, "cookie mode: the login answers an HTML page, its expiry in the cookie Max-Age"
        ),
    )
    reject: tuple[str, ...] = field(
        default=(), metadata=knob(credential_names, "credentials refused even when right")
    )
    drip_bytes_per_s: int = field(
        default=0, metadata=knob(non_negative_int, "send the business body this slowly")
    )
    endless_body: bool = field(
        default=False, metadata=knob(boolean, "stream a chunked body until the client leaves")
    )
    html_error: bool = field(
        default=False, metadata=knob(boolean, "business route answers 502 with an HTML page")
    )
    html_ok: bool = field(
        default=False,
        metadata=knob(boolean, "business route answers 200 with an HTML sign-in page"),
    )
    reset_connection: bool = field(
        default=False, metadata=knob(boolean, "business route drops the connection unanswered")
    )
    status_429_retry_after: int | None = field(
        default=None, metadata=knob(optional_positive_int, "answer 429 with Retry-After: N")
    )
    redirect_to: str | None = field(
        default=None, metadata=knob(optional_url, "business route answers 302 to this URL")
    )
    # Knobs that break the guide's requirements, for the portal's readiness report.
    jwt_pii: str | None = field(
        default=None,
        metadata=knob(
            optional_choice(*JWT_PII_MODES),
            "email: JWTs carry an email claim; sub: the e-mail address is the JWT sub",
        ),
    )
    identity_per_login: bool = field(
        default=False, metadata=knob(boolean, "every login gets a new customer identifier")
    )
    shared_identity: bool = field(
        default=False, metadata=knob(boolean, "every test user gets the same customer identifier")
    )
    jwt_alg_none: bool = field(
        default=False, metadata=knob(boolean, "JWTs are unsigned (alg none) and accepted so")
    )
    omit_expires_in: bool = field(
        default=False, metadata=knob(boolean, "login and token answers carry no expires_in")
    )
    jwt_exp_skew_s: int = field(
        default=0, metadata=knob(integer, "JWT exp is this many seconds off expires_in")
    )
    accept_missing: tuple[str, ...] = field(
        default=(),
        metadata=knob(
            names_from(*BUSINESS_CREDENTIALS),
            "business credentials not checked: a call without them (or wrong) is answered",
        ),
    )
    token_endpoint_lenient: str | None = field(
        default=None,
        metadata=knob(
            optional_choice(*LENIENT_TOKEN_ANSWERS),
            "a wrong client secret gets a token, or a 500, instead of invalid_client",
        ),
    )

    @classmethod
    def from_config(cls, config: SandboxConfig) -> Faults:
        """The start-up knobs: config values for lifetime and auth mode, then SANDBOX_FAULTS."""
        base = cls(token_lifetime_s=config.token_lifetime, auth_mode=config.auth_mode)
        return base.merged(config.faults)

    def merged(self, changes: Mapping[str, object]) -> Faults:
        """Return a copy with ``changes`` applied; :class:`KnobError` names any bad knob."""
        known = {item.name: item for item in dataclasses.fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise KnobError(
                f"unknown fault knob(s): {', '.join(unknown)}; known: {', '.join(known)}"
            )
        parsed = {name: parse_knob(known[name], value) for name, value in changes.items()}
        return dataclasses.replace(self, **parsed)

    def as_dict(self) -> dict[str, object]:
        """The knobs as JSON-ready values (``reject`` as a list)."""
        values = dataclasses.asdict(self)
        values["reject"] = list(self.reject)
        values["accept_missing"] = list(self.accept_missing)
        return values

    def rejects(self, credential: str) -> bool:
        """True when the ``reject`` knob says to refuse ``credential`` even when it is right."""
        return credential in self.reject

    def skips(self, credential: str) -> bool:
        """True when ``accept_missing`` says not to check ``credential`` on the business call."""
        return credential in self.accept_missing


def parse_knob(knob_field: dataclasses.Field[Any], value: object) -> Any:
    """Run a knob's parser, turning its complaint into a :class:`KnobError` naming the knob."""
    parser: Parser = knob_field.metadata["parser"]
    try:
        return parser(value)
    except ValueError as error:
        raise KnobError(f"fault knob {knob_field.name} {error}, not {value!r}") from None


def knob_docs() -> dict[str, str]:
    """One line per knob, for the control route and the README."""
    return {item.name: item.metadata["doc"] for item in dataclasses.fields(Faults)}
