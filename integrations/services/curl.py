"""'Copy as curl': a shell script that repeats a call, secrets replaced by variables.

The script reads CLIENT_SECRET, TEST_USER_PASSWORD and API_KEY from the environment,
obtains $ACCESS_TOKEN and $CUSTOMER_JWT (or $CUSTOMER_COOKIE) with the same requests
the portal made, then sends the business request. No secret value is ever written in it:
a header named like a credential that is not one of those (a literal saved in a template
before that was refused) reads its own variable, named after the header, and a body
field named like one is written as [REDACTED].

It is built from the endpoint's configuration and the call's variables, not from a
request that was sent, so it exists when an auth step failed too. A template variable
without a value becomes ``${ORDER_ID:?set ORDER_ID}``: the script stops, naming it,
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
    Secrets,
    is_credential_header,
    redact_body,
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
_RESERVED = {"CLIENT_SECRET", "TEST_USER_PASSWORD", *VARIABLE_FOR_KIND.values()}
UNSET = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):\?set \1\}")


def dq(text: str) -> str:
    """Double-quote text for the shell, keeping ${VAR} references live."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    escaped = escaped.replace("$", "\\$").replace("\\${", "${")
    return f'"{escaped}"'


class _Marks:
    """Shell expansions marked inside rendered text, so that every literal part is
    single-quoted and only the expansions stay live (``'/orders/'"${ORDER_ID:?...}"``).

    A mark is made of characters that percent-encoding, JSON and redaction keep as is.
    """

    def __init__(self) -> None:
        self.nonce = random.token_hex(4)
        self.expansions: list[str] = []

    def mark(self, expansion: str) -> str:
        self.expansions.append(expansion)
        return f"~{self.nonce}~{len(self.expansions) - 1}~"

    def word(self, text: str) -> str:
        parts = re.split(f"~{self.nonce}~([0-9]+)~", text)
        quoted = [
            f'"{self.expansions[int(part)]}"' if index % 2 else shlex.quote(part)
            for index, part in enumerate(parts)
            if index % 2 or part
        ]
        return "".join(quoted) or "''"


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
    return "\n".join([*lines, business]) + "\n"


def curl_unset_variables(script: str) -> list[str]:
    """The shell variables a script stops on until they are set, in order, once."""
    return list(dict.fromkeys(UNSET.findall(script)))


def shell_variable(name: str) -> str:
    """The shell variable that stands for template variable ``name``."""
    variable = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") or "VAR"
    reserved = variable in _RESERVED or variable.startswith(("HEADER_", "CLAIM_"))
    return f"VAR_{variable}" if reserved or variable[0].isdigit() else variable


def _values(
    endpoint: Endpoint, variables: Mapping[str, Any], marks: _Marks
) -> tuple[dict[str, str], list[str]]:
    """The call's values, with a failing expansion marked in for each one not set."""
    values = call_variables_merge(endpoint=endpoint, given=variables)
    unset = []
    for use in endpoint_variable_uses(endpoint=endpoint):
        if not values.get(use.name):
            unset.append(variable := shell_variable(use.name))
            values[use.name] = marks.mark(f"${{{variable}:?set {variable}}}")
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
    request = prepare_request(endpoint=endpoint, tokens=_Tokens(bearer), variables=values)
    if identified:
        _attach_identifier(endpoint, request, marks)
    return request


def _attach_identifier(endpoint: Endpoint, request: PreparedRequest, marks: _Marks) -> None:
    """The identifier where the endpoint sends it (calls.prepare_request does so for a call)."""
    text = _identifier_text(endpoint, marks)
    location = endpoint.identifier_location
    if location == IdentifierLocation.HEADER:
        request.headers[endpoint.identifier_header] = text
        request.credential_headers[endpoint.identifier_header] = "customer"
    elif location == IdentifierLocation.COOKIE:
        auth = endpoint.customer_auth
        request.headers["Cookie"] = f"{auth.cookie_name if auth else 'session'}={text}"
        request.credential_headers["Cookie"] = "customer"
    elif location == IdentifierLocation.BODY:
        body = request.json_body if isinstance(request.json_body, dict) else {}
        request.json_body = {**body, endpoint.identifier_body_field: text}
        if not any(name.lower() == "content-type" for name in request.headers):
            request.headers["content-type"] = "application/json"


def _business_line(
    endpoint: Endpoint,
    request: PreparedRequest,
    secrets: Secrets,
    marks: _Marks,
    identified: bool,
) -> str:
    url = redact_url(request.url, secrets=secrets)  # a {placeholder} may put a secret there
    parts = ["# 3. The call", f"curl -sS -i -X {request.method} {marks.word(url)}"]
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
    if kind == "customer":
        return marks.word(f"{name}: {value}")  # the identifier text, built of expansions
    if kind:
        return _header_with_variable(endpoint, name, kind)
    if is_credential_header(name):
        # Named like a credential: its value is a secret whatever its origin.
        scheme, _, rest = value.strip().partition(" ")
        prefix = f"{scheme} " if rest.strip() and scheme.lower() in AUTH_SCHEMES else ""
        return dq(f"{name}: {prefix}${{{_header_variable(name)}}}")
    return marks.word(f"{name}: {redact_text(value, secrets=secrets)}")


def _header_with_variable(endpoint: Endpoint, name: str, kind: str) -> str:
    variable = "${" + VARIABLE_FOR_KIND[kind] + "}"
    if kind == "bearer":
        return dq(f"{name}: Bearer {variable}")
    return dq(f"{name}: {variable}")


def _redacted_json(body: Any, secrets: Secrets) -> str:
    """The body with credential-like fields and known secrets hidden, as JSON text."""
    return redact_body(json.dumps(body), "application/json", secrets=secrets)


def _body_argument(
    endpoint: Endpoint, request: PreparedRequest, secrets: Secrets, marks: _Marks, in_body: bool
) -> str:
    body = request.json_body
    field = endpoint.identifier_body_field
    if in_body and isinstance(body, dict):
        # Redacted before the identifier goes back in: its field is named like a secret.
        others = json.loads(_redacted_json({k: v for k, v in body.items() if k != field}, secrets))
        return marks.word(json.dumps({**others, field: body[field]}, ensure_ascii=False))
    return marks.word(_redacted_json(body, secrets))
