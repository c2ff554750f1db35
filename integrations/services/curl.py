"""'Copy as curl': a shell script that repeats a call, secrets replaced by variables.

The script reads CLIENT_SECRET, TEST_USER_PASSWORD and API_KEY from the environment,
obtains $ACCESS_TOKEN and $CUSTOMER_JWT (or $CUSTOMER_COOKIE) with the same requests
the portal made, then sends the business request. No secret value is ever written in it:
a header named like a credential that is not one of those (a literal saved in a template
before that was refused) reads its own variable, named after the header, and a body
field named like one is written as [REDACTED].

It is built from the endpoint's configuration and the call's variables, not from a
request that was sent, so it exists when an auth step failed too. A template variable
without a value becomes ``${VAR_ORDER_ID:?set VAR_ORDER_ID}``: the script stops, naming it,
before any request. A ``{claims.<name>}`` identifier format reads the claim from
$CUSTOMER_JWT in the script.
"""

from __future__ import annotations

import json
import re
import secrets as random
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from integrations.choices import ClientAuthStyle, CustomerAuthMode, IdentifierLocation
from integrations.errors import PortalError
from integrations.models import Endpoint, TestUser
from integrations.outbound.redaction import (
    AUTH_SCHEMES,
    MARKER,
    Secrets,
    is_credential_header,
    is_sensitive_key,
    redact_text,
    redact_url,
    secret_matcher,
)
from integrations.services.call_variables import call_variables_merge, endpoint_variable_uses
from integrations.services.calls import PreparedRequest, prepare_request
from integrations.services.identifier import PLACEHOLDER as IDENTIFIER_PLACEHOLDER
from integrations.services.identifier import effective_format, placeholders
from integrations.services.token_fetch import _with_grant_in_query

EXTRACT = "python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])'"
# A claim of the JWT on stdin: the whole dotted name first, then nested objects.
CLAIM = (
    "python3 -c 'import base64,functools,json,sys; "
    'p=sys.stdin.read().strip().split(".")[1]; '
    'c=json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4))); n=sys.argv[1]; '
    'print(c[n] if n in c else functools.reduce(lambda d,k: d[k], n.split("."), c))\''
)
VARIABLE_FOR_KIND = {
    "bearer": "ACCESS_TOKEN",
    "customer": "CUSTOMER_JWT",
    "customer_cookie": "CUSTOMER_COOKIE",
    "api_key": "API_KEY",
}
UNSET = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):\?set \1\}")


def dq(text: str) -> str:
    """Double-quote text for the shell, keeping ${VAR} references live."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    escaped = escaped.replace("$", "\\$").replace("\\${", "${")
    return f'"{escaped}"'


# What a variable read from the environment becomes where it goes: the script encodes
# it as the portal does (a JSON string's inside, a percent-encoded path or query part).
ENCODERS = {
    "json": "python3 -c 'import json,sys; print(json.dumps(sys.stdin.read())[1:-1])'",
    "url": "python3 -c 'import sys,urllib.parse as u; print(u.quote(sys.stdin.read(),safe=str()))'",
}


class _Marks:
    """Shell expansions marked inside rendered text, so that every literal part is
    single-quoted and only the expansions stay live (``'/orders/'"${VAR_ORDER_ID}"``).

    A mark is made of characters that percent-encoding, JSON and redaction keep as is.
    A mark of a template variable names it: in a URL or a JSON body the script reads
    the variable encoded for that place (``$URL_VAR_ORDER_ID``), never raw.
    """

    def __init__(self) -> None:
        self.nonce = random.token_hex(4)
        self.expansions: list[tuple[str, str | None]] = []
        self.encoded: dict[str, str] = {}  # encoding variable -> the line that sets it

    def mark(self, expansion: str, *, variable: str | None = None) -> str:
        self.expansions.append((expansion, variable))
        return f"~{self.nonce}~{len(self.expansions) - 1}~"

    def literals_redacted(self, text: str, secrets: Secrets, *, whole: bool = False) -> str:
        """``text`` redacted around its marks, never through them: "Token {ref}" keeps
        the expansion the script asks for. ``whole``: every literal piece is a secret."""
        parts = re.split(f"(~{self.nonce}~[0-9]+~)", text)
        return "".join(
            part if index % 2 else MARKER if whole and part else redact_text(part, secrets=secrets)
            for index, part in enumerate(parts)
        )

    def word(self, text: str, *, encoding: str | None = None) -> str:
        parts = re.split(f"~{self.nonce}~([0-9]+)~", text)
        quoted = [
            f'"{self._expansion(int(part), encoding)}"' if index % 2 else shlex.quote(part)
            for index, part in enumerate(parts)
            if index % 2 or part
        ]
        return "".join(quoted) or "''"

    def _expansion(self, index: int, encoding: str | None) -> str:
        expansion, variable = self.expansions[index]
        if encoding is None or variable is None:
            return expansion
        encoded = f"{encoding.upper()}_{variable}"
        self.encoded[encoded] = f'{encoded}=$(printf %s "${variable}" | {ENCODERS[encoding]})'
        return f"${{{encoded}}}"


@dataclass
class _Token:
    value: str


@dataclass
class _Tokens:
    """What prepare_request reads: a bearer stand-in; the identifier is added here."""

    bearer: _Token | None
    session: None = None


def curl_script(
    *,
    endpoint: Endpoint,
    test_user: TestUser | None,
    variables: Mapping[str, Any],
    secrets: Secrets,
) -> str:
    """The script for a call of ``endpoint`` with ``variables`` (samples fill the rest)."""
    secrets, marks = secret_matcher(secrets), _Marks()
    values, unset = _values(endpoint, variables, marks)
    identified = _identifier_used(endpoint, test_user)
    request: PreparedRequest | None = None
    try:
        request = _business_request(endpoint, values, identified, marks)
        business = _business_line(endpoint, request, secrets, marks, identified)
    except PortalError as error:  # e.g. an API key with no value: steps 1 and 2 still help
        business = f"# 3. The call cannot be built: {redact_text(error.message, secrets=secrets)}"
    lines = ["#!/bin/sh", _setup_comment(request, unset), "set -e"]
    lines += [f': "${{{name}:?set {name}}}"' for name in unset]  # stop before any request
    if endpoint.oauth_client is not None:
        lines += _token_lines(endpoint)
    if identified:
        lines += _session_lines(endpoint, test_user)
        lines += _claim_lines(endpoint)
    return "\n".join([*lines, *marks.encoded.values(), business]) + "\n"


def curl_unset_variables(script: str) -> list[str]:
    """The shell variables a script stops on until they are set, in order, once."""
    return list(dict.fromkeys(UNSET.findall(script)))


def shell_variables(names: list[str]) -> dict[str, str]:
    """The shell variable that stands for each template variable: ``VAR_`` and the name
    upper-cased, so none is one the shell or the login already sets (``user`` is not
    $USER, ``pwd`` not $PWD); names that upper-case alike (order_ref, ORDER_REF) get
    ``_2``, ``_3`` in order, so each still needs its own value."""
    variables: dict[str, str] = {}
    for name in dict.fromkeys(names):
        base = "VAR_" + (re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") or "UNNAMED")
        variable, count = base, 1
        while variable in variables.values():
            count += 1
            variable = f"{base}_{count}"
        variables[name] = variable
    return variables


def _values(
    endpoint: Endpoint, variables: Mapping[str, Any], marks: _Marks
) -> tuple[dict[str, str], list[str]]:
    """The call's values, with a failing expansion marked in for each one not set."""
    values = call_variables_merge(endpoint=endpoint, given=variables)
    uses = endpoint_variable_uses(endpoint=endpoint)
    shell = shell_variables([use.name for use in uses])
    unset = []
    for use in uses:
        if not values.get(use.name):
            unset.append(variable := shell[use.name])
            values[use.name] = marks.mark(f"${{{variable}:?set {variable}}}", variable=variable)
    return values, unset


def _setup_comment(request: PreparedRequest | None, unset: list[str]) -> str:
    names = ["CLIENT_SECRET", "TEST_USER_PASSWORD", "API_KEY"]
    if request is not None:
        names += [
            _header_variable(name)
            for name in request.headers
            if name not in request.credential_headers and is_credential_header(name)
        ]
    names += unset
    return f"# Set {', '.join(names[:-1])} and {names[-1]} first."


def _header_variable(name: str) -> str:
    """The shell variable that stands for a credential-like header's value."""
    return "HEADER_" + re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")


def _identifier_used(endpoint: Endpoint, test_user: TestUser | None) -> bool:
    return (
        endpoint.customer_auth is not None
        and test_user is not None
        and endpoint.identifier_location != IdentifierLocation.NONE
    )


def _token_lines(endpoint: Endpoint) -> list[str]:
    client = endpoint.oauth_client
    assert client is not None
    url = client.environment.absolute_url(client.token_url)
    parts = ["curl -sS -X POST"]
    if client.auth_style == ClientAuthStyle.HTTP_BASIC:
        parts += [
            shlex.quote(url),
            "-u",
            dq(f"{quote(client.client_id, safe='')}:${{CLIENT_SECRET}}"),
            "--data-urlencode",
            "grant_type=client_credentials",
        ]
    else:
        parts += [
            shlex.quote(_with_grant_in_query(url)),
            "--data-urlencode",
            shlex.quote(f"client_id={client.client_id}"),
            "--data-urlencode",
            dq("client_secret=${CLIENT_SECRET}"),
        ]
    if client.scope:
        parts += ["--data-urlencode", shlex.quote(f"scope={client.scope}")]
    field = shlex.quote(client.access_token_field)
    return [
        "# 1. OAuth access token (client credentials)",
        f"ACCESS_TOKEN=$({' '.join(parts)} | {EXTRACT} {field})",
    ]


def _session_lines(endpoint: Endpoint, test_user: TestUser | None) -> list[str]:
    auth = endpoint.customer_auth
    if auth is None or test_user is None:
        return []
    url = shlex.quote(auth.environment.absolute_url(auth.authenticate_url))
    form = [
        "--data-urlencode",
        shlex.quote(f"{auth.username_field}={test_user.username}"),
        "--data-urlencode",
        dq(f"{auth.password_field}=${{TEST_USER_PASSWORD}}"),
    ]
    request = " ".join(["curl -sS -X POST", url, *form])
    if auth.mode == CustomerAuthMode.COOKIE:
        cookie = shlex.quote(auth.cookie_name)
        return [
            "# 2. Customer authentication (session cookie)",
            f"CUSTOMER_COOKIE=$({request} -c - -o /dev/null | "
            f"awk -v n={cookie} '$6 == n {{print $7}}')",
        ]
    field = shlex.quote(auth.token_field)
    return ["# 2. Customer authentication (JWT)", f"CUSTOMER_JWT=$({request} | {EXTRACT} {field})"]


def _claims(endpoint: Endpoint) -> list[str]:
    known, _ = placeholders(effective_format(endpoint))
    return list(dict.fromkeys(".".join(p.claim) for p in known if not p.is_token))


def _claim_variable(claim: str) -> str:
    return "CLAIM_" + re.sub(r"[^A-Z0-9]+", "_", claim.upper()).strip("_")


def _claim_lines(endpoint: Endpoint) -> list[str]:
    return [
        f'{_claim_variable(claim)}=$(printf %s "$CUSTOMER_JWT" | {CLAIM} {shlex.quote(claim)})'
        for claim in _claims(endpoint)
    ]


def _identifier_text(endpoint: Endpoint, marks: _Marks) -> str:
    """The identifier as the endpoint's format builds it, with its parts as expansions."""
    auth = endpoint.customer_auth
    cookie_mode = auth is not None and auth.mode == CustomerAuthMode.COOKIE
    token = marks.mark("${CUSTOMER_COOKIE}" if cookie_mode else "${CUSTOMER_JWT}")

    def substitute(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner == "token":
            return token
        if inner.startswith("claims."):
            return marks.mark(f"${{{_claim_variable(inner[len('claims.') :])}}}")
        return match.group(0)  # refused at save time; kept as written rather than guessed

    return IDENTIFIER_PLACEHOLDER.sub(substitute, effective_format(endpoint))


def _business_request(
    endpoint: Endpoint, values: dict[str, str], identified: bool, marks: _Marks
) -> PreparedRequest:
    bearer = _Token(marks.mark("${ACCESS_TOKEN}")) if endpoint.oauth_client else None
    identifier = _identifier_text(endpoint, marks) if identified else None
    return prepare_request(
        endpoint=endpoint, tokens=_Tokens(bearer), variables=values, identifier=identifier
    )


def _business_line(
    endpoint: Endpoint,
    request: PreparedRequest,
    secrets: Secrets,
    marks: _Marks,
    identified: bool,
) -> str:
    url = redact_url(request.url, secrets=secrets)  # a {placeholder} may put a secret there
    url_word = marks.word(url, encoding="url")
    parts = ["# 3. The call", f"curl -sS -i -X {request.method} {url_word}"]
    for name, value in request.headers.items():
        parts.append("  -H " + _header_argument(endpoint, request, name, value, secrets, marks))
    if request.json_body is not None:
        in_body = identified and endpoint.identifier_location == IdentifierLocation.BODY
        parts.append("  --data-raw " + _body_argument(endpoint, request, secrets, marks, in_body))
    return parts[0] + "\n" + " \\\n".join(parts[1:])


def _header_argument(
    endpoint: Endpoint,
    request: PreparedRequest,
    name: str,
    value: str,
    secrets: Secrets,
    marks: _Marks,
) -> str:
    kind = request.credential_headers.get(name)
    if kind in ("customer", "customer_cookie"):
        return marks.word(f"{name}: {value}")  # the identifier text, built of expansions
    if kind:
        return _header_with_variable(endpoint, name, kind)
    if is_credential_header(name):
        # Named like a credential: its value is a secret whatever its origin.
        scheme, _, rest = value.strip().partition(" ")
        prefix = f"{scheme} " if rest.strip() and scheme.lower() in AUTH_SCHEMES else ""
        return dq(f"{name}: {prefix}${{{_header_variable(name)}}}")
    return marks.word(f"{name}: {marks.literals_redacted(value, secrets)}")


def _header_with_variable(endpoint: Endpoint, name: str, kind: str) -> str:
    variable = "${" + VARIABLE_FOR_KIND[kind] + "}"
    if kind == "bearer":
        return dq(f"{name}: Bearer {variable}")
    return dq(f"{name}: {variable}")


def _redacted_json(value: Any, secrets: Secrets, marks: _Marks) -> Any:
    """The body with credential-like fields and known secrets hidden (as
    ``redaction.redact_body`` does), the marked expansions kept."""
    if isinstance(value, dict):
        return {key: _redacted_field(str(key), item, secrets, marks) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted_json(item, secrets, marks) for item in value]
    if isinstance(value, str):
        return marks.literals_redacted(value, secrets)
    return value


def _redacted_field(key: str, value: Any, secrets: Secrets, marks: _Marks) -> Any:
    if not is_sensitive_key(key) or value is None or isinstance(value, bool):
        return _redacted_json(value, secrets, marks)
    # Named like a secret: its literal text is hidden; a variable it reads stays one.
    return marks.literals_redacted(value, secrets, whole=True) if isinstance(value, str) else MARKER


def _body_argument(
    endpoint: Endpoint, request: PreparedRequest, secrets: Secrets, marks: _Marks, in_body: bool
) -> str:
    body = request.json_body
    field = endpoint.identifier_body_field
    if in_body and isinstance(body, dict):
        # Redacted before the identifier goes back in: its field is named like a secret.
        others = _redacted_json({k: v for k, v in body.items() if k != field}, secrets, marks)
        body = {**others, field: body[field]}
    else:
        body = _redacted_json(body, secrets, marks)
    return marks.word(json.dumps(body, ensure_ascii=False), encoding="json")
