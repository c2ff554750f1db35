"""'Copy as curl': a shell script that repeats a call, secrets replaced by variables.

The script reads CLIENT_SECRET, TEST_USER_PASSWORD and API_KEY from the environment,
obtains $ACCESS_TOKEN and $CUSTOMER_JWT (or $CUSTOMER_COOKIE) with the same requests
the portal made, then sends the business request. No secret value is ever written in it:
a header named like a credential that is not one of those (a literal saved in a template
before that was refused) reads its own variable, named after the header, and a body
field named like one is written as [REDACTED].
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any
from urllib.parse import quote

from integrations.choices import ClientAuthStyle, CustomerAuthMode, IdentifierLocation
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
from integrations.services.calls import PreparedRequest
from integrations.services.token_fetch import _with_grant_in_query

EXTRACT = "python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])'"
VARIABLE_FOR_KIND = {
    "bearer": "ACCESS_TOKEN",
    "customer": "CUSTOMER_JWT",
    "customer_cookie": "CUSTOMER_COOKIE",
    "api_key": "API_KEY",
}


def dq(text: str) -> str:
    """Double-quote text for the shell, keeping ${VAR} references live."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    escaped = escaped.replace("$", "\\$").replace("\\${", "${")
    return f'"{escaped}"'


def curl_script(
    *,
    endpoint: Endpoint,
    test_user: TestUser | None,
    request: PreparedRequest,
    secrets: Secrets,
) -> str:
    secrets = secret_matcher(secrets)
    lines = ["#!/bin/sh", _setup_comment(request), "set -e"]
    uses = set(request.credential_headers.values())
    if "bearer" in uses and endpoint.oauth_client is not None:
        lines += _token_lines(endpoint)
    if uses & {"customer", "customer_cookie"} or _identifier_in_body(endpoint, test_user):
        lines += _session_lines(endpoint, test_user)
    lines.append(_business_line(endpoint, request, secrets))
    return "\n".join(lines) + "\n"


def _setup_comment(request: PreparedRequest) -> str:
    names = ["CLIENT_SECRET", "TEST_USER_PASSWORD", "API_KEY"]
    names += [
        _header_variable(name)
        for name in request.headers
        if name not in request.credential_headers and is_credential_header(name)
    ]
    return f"# Set {', '.join(names[:-1])} and {names[-1]} first."


def _header_variable(name: str) -> str:
    """The shell variable that stands for a credential-like header's value."""
    return "HEADER_" + re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_")


def _identifier_in_body(endpoint: Endpoint, test_user: TestUser | None) -> bool:
    return test_user is not None and endpoint.identifier_location == IdentifierLocation.BODY


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


def _business_line(endpoint: Endpoint, request: PreparedRequest, secrets: Secrets) -> str:
    url = redact_url(request.url, secrets=secrets)  # a {placeholder} may put a secret there
    parts = ["# 3. The call", f"curl -sS -i -X {request.method} {shlex.quote(url)}"]
    for name, value in request.headers.items():
        parts.append("  -H " + _header_argument(endpoint, request, name, value, secrets))
    if request.json_body is not None:
        parts.append("  --data-raw " + _body_argument(endpoint, request, secrets))
    return parts[0] + "\n" + " \\\n".join(parts[1:])


def _header_argument(
    endpoint: Endpoint, request: PreparedRequest, name: str, value: str, secrets: Secrets
) -> str:
    if kind := request.credential_headers.get(name):
        return _header_with_variable(endpoint, name, kind)
    if is_credential_header(name):
        # Named like a credential: its value is a secret whatever its origin.
        scheme, _, rest = value.strip().partition(" ")
        prefix = f"{scheme} " if rest.strip() and scheme.lower() in AUTH_SCHEMES else ""
        return dq(f"{name}: {prefix}${{{_header_variable(name)}}}")
    return shlex.quote(f"{name}: {redact_text(value, secrets=secrets)}")


def _header_with_variable(endpoint: Endpoint, name: str, kind: str) -> str:
    variable = "${" + VARIABLE_FOR_KIND[kind] + "}"
    if kind == "bearer":
        return dq(f"{name}: Bearer {variable}")
    if kind == "customer":
        return dq(f"{name}: " + endpoint.identifier_format.replace("{token}", variable))
    if kind == "customer_cookie":
        cookie = endpoint.customer_auth.cookie_name if endpoint.customer_auth else "session"
        return dq(f"{name}: {cookie}={variable}")
    return dq(f"{name}: {variable}")


def _redacted_json(body: Any, secrets: Secrets) -> str:
    """The body with credential-like fields and known secrets hidden, as JSON text."""
    return redact_body(json.dumps(body), "application/json", secrets=secrets)


def _body_argument(endpoint: Endpoint, request: PreparedRequest, secrets: Secrets) -> str:
    body = request.json_body
    field = endpoint.identifier_body_field
    if endpoint.identifier_location == IdentifierLocation.BODY and isinstance(body, dict):
        marker = "__CUSTOMER_JWT__"
        # Redacted before the marker goes in: the identifier field is named like a secret.
        others = json.loads(_redacted_json({k: v for k, v in body.items() if k != field}, secrets))
        text = json.dumps({**others, field: marker}, ensure_ascii=False)
        before, after = text.split(json.dumps(marker), 1)
        # A single-quoted JSON quote, the variable in double quotes, another JSON quote.
        return shlex.quote(before) + "'\"'\"${CUSTOMER_JWT}\"'\"'" + shlex.quote(after)
    return shlex.quote(_redacted_json(body, secrets))
