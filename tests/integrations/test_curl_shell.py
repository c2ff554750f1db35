"""'Copy as curl' run by a real shell: bash runs the script with ``curl`` replaced by a
stub on PATH that records its argv, so each test asserts on exactly what would be sent.

The stub answers every request with one JSON object carrying an access token and a JWT,
which is all the script's token and login steps read.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations.choices import IdentifierLocation
from integrations.models import Endpoint
from integrations.services.calls import prepare_request
from integrations.services.curl import curl_script, shell_variables
from tests.factories import make_customer_auth, make_endpoint, make_environment, make_test_user

pytestmark = pytest.mark.django_db

STUB = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["CURL_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
print(json.dumps({"access_token": "stub-access-token", "JWT": os.environ["STUB_JWT"]}))
"""
# Everything a shell could expand or split on, in one value.
HOSTILE = 'it\'s "$(id)" `id` ${HOME} $USER \\ end'
HOSTILE_LINES = HOSTILE + "\nsecond line"


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}."


STUB_JWT = _unsigned_jwt({"sub": "cust-42"})


@dataclass
class Sent:
    """One curl invocation the stub recorded."""

    argv: list[str]

    def headers(self) -> dict[str, str]:
        pairs = [self.argv[i + 1] for i, arg in enumerate(self.argv) if arg == "-H"]
        return dict(pair.split(": ", 1) for pair in pairs)

    def body(self) -> Any:
        return json.loads(self.argv[self.argv.index("--data-raw") + 1])


@dataclass
class Shell:
    log: Path
    base_env: dict[str, str]

    def run(self, script: str, **variables: str) -> subprocess.CompletedProcess[str]:
        env = {**self.base_env, **variables}
        return subprocess.run(
            ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30
        )

    def sent(self) -> list[Sent]:
        if not self.log.exists():
            return []
        return [Sent(json.loads(line)) for line in self.log.read_text().splitlines()]


@pytest.fixture
def shell(tmp_path: Path) -> Shell:
    stub = tmp_path / "bin" / "curl"
    stub.parent.mkdir()
    stub.write_text(STUB)
    stub.chmod(0o755)
    base_env = {
        # What a login shell sets: none of it may stand in for a template variable.
        "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}",
        "USER": "operator-login",
        "HOME": "/home/operator",
        "PWD": "/home/operator",
        "LANG": "C.UTF-8",
        "CURL_LOG": str(tmp_path / "curl.log"),
        "STUB_JWT": STUB_JWT,
        "CLIENT_SECRET": "stub-client-secret",
        "TEST_USER_PASSWORD": "stub-password",
        "API_KEY": "stub-api-key",
    }
    return Shell(tmp_path / "curl.log", base_env)


def plain_endpoint(**fields: Any) -> Endpoint:
    fields.setdefault("identifier_location", IdentifierLocation.NONE)
    return make_endpoint(environment=make_environment(), method="POST", **fields)


def script_of(endpoint: Endpoint, variables: dict[str, str] | None = None) -> str:
    user = endpoint.default_test_user
    return curl_script(endpoint=endpoint, test_user=user, variables=variables or {}, secrets=[])


def test_template_variables_never_read_variables_the_shell_already_sets() -> None:
    names = ["user", "pwd", "path", "order_ref", "ORDER_REF", "home"]
    assert shell_variables(names) == {
        "user": "VAR_USER",
        "pwd": "VAR_PWD",
        "path": "VAR_PATH",
        "order_ref": "VAR_ORDER_REF",
        "ORDER_REF": "VAR_ORDER_REF_2",
        "home": "VAR_HOME",
    }


def test_an_unset_variable_named_like_a_login_variable_stops_the_script_sending_nothing(
    shell: Shell,
) -> None:
    endpoint = plain_endpoint(
        path="/orders?lang={lang}",
        body_template={"user": "{user}", "pwd": "{pwd}"},
    )

    script = script_of(endpoint)
    stopped = shell.run(script)

    assert stopped.returncode != 0 and "set VAR_LANG" in stopped.stderr
    assert shell.sent() == []
    stopped = shell.run(script, VAR_LANG="en", VAR_USER="u-1")
    assert stopped.returncode != 0 and "set VAR_PWD" in stopped.stderr
    assert shell.sent() == []
    ran = shell.run(script, VAR_LANG="en", VAR_USER="u-1", VAR_PWD="p-1")
    assert ran.returncode == 0, ran.stderr
    (sent,) = shell.sent()
    assert sent.body() == {"user": "u-1", "pwd": "p-1"}
    assert "https://api.example.com/orders?lang=en" in sent.argv


def test_names_that_upper_case_alike_each_need_their_own_value(shell: Shell) -> None:
    endpoint = plain_endpoint(
        path="/orders", headers_template={"x-a": "{order_ref}", "x-b": "{ORDER_REF}"}
    )

    script = script_of(endpoint)
    stopped = shell.run(script, VAR_ORDER_REF="A-1")

    assert stopped.returncode != 0 and "set VAR_ORDER_REF_2" in stopped.stderr
    assert shell.sent() == []
    ran = shell.run(script, VAR_ORDER_REF="A-1", VAR_ORDER_REF_2="B-2")
    assert ran.returncode == 0, ran.stderr
    headers = shell.sent()[0].headers()
    assert headers["x-a"] == "A-1" and headers["x-b"] == "B-2"


def test_a_literal_around_a_placeholder_is_redacted_without_swallowing_it(shell: Shell) -> None:
    endpoint = plain_endpoint(
        path="/orders",
        headers_template={"x-ref": "Token {ref}"},
        body_template={"note": "Token {ref}", "password": "{pw}"},
    )

    script = script_of(endpoint)
    ran = shell.run(script, VAR_REF="ref12345678", VAR_PW="pw-value-1")

    assert "[REDACTED]" not in script, script
    assert ran.returncode == 0, ran.stderr
    (sent,) = shell.sent()
    assert sent.headers()["x-ref"] == "Token ref12345678"
    assert sent.body() == {"note": "Token ref12345678", "password": "pw-value-1"}


def test_hostile_values_reach_curl_as_their_literal_text(shell: Shell) -> None:
    auth = make_customer_auth(environment=make_environment())
    endpoint = make_endpoint(
        environment=auth.environment,
        method="POST",
        path="/orders/{order}/{from_env}",
        headers_template={"x-note": "{note}"},
        body_template={"given": "{given}", "from_env": "{from_env}"},
        customer_auth=auth,
        default_test_user=make_test_user(customer_auth=auth, username=HOSTILE),
        identifier_location=IdentifierLocation.HEADER,
        identifier_header="customer-auth",
        identifier_format=HOSTILE + " {token}",
    )
    variables = {"order": HOSTILE, "note": HOSTILE, "given": HOSTILE_LINES}

    script = script_of(endpoint, variables)
    ran = shell.run(script, VAR_FROM_ENV=HOSTILE_LINES)

    assert ran.returncode == 0, ran.stderr
    login, business = shell.sent()
    assert f"username={HOSTILE}" in login.argv
    headers = business.headers()
    assert headers["x-note"] == HOSTILE
    assert headers["customer-auth"] == f"{HOSTILE} {STUB_JWT}"
    assert business.body() == {"given": HOSTILE_LINES, "from_env": HOSTILE_LINES}
    rendered = {**variables, "from_env": HOSTILE_LINES}
    url = prepare_request(endpoint=endpoint, tokens=_NoTokens(), variables=rendered).url
    assert url in business.argv  # the path variable, percent-encoded as the portal does


@dataclass
class _Session:
    value: str
    cookie_name: str = ""


@dataclass
class _NoTokens:
    bearer: None = None
    session: _Session | None = None


@pytest.mark.parametrize(
    "location", [IdentifierLocation.HEADER, IdentifierLocation.BODY, IdentifierLocation.COOKIE]
)
def test_curl_and_the_portal_put_the_identifier_in_the_same_place(
    shell: Shell, location: str
) -> None:
    auth = make_customer_auth(environment=make_environment(), cookie_name="sid")
    endpoint = make_endpoint(
        environment=auth.environment,
        method="POST",
        path="/orders",
        body_template={"order": "A-1"},
        customer_auth=auth,
        default_test_user=make_test_user(customer_auth=auth),
        identifier_location=location,
        identifier_header="x-customer",
        identifier_body_field="customer_ref",
        identifier_format="cust-{claims.sub}-{token}",
    )
    tokens = _NoTokens(session=_Session(STUB_JWT))

    portal = prepare_request(endpoint=endpoint, tokens=tokens, variables={})
    ran = shell.run(script_of(endpoint))

    assert ran.returncode == 0, ran.stderr
    business = shell.sent()[-1]
    assert business.headers() == portal.headers
    assert business.body() == portal.json_body
    expected = f"cust-cust-42-{STUB_JWT}"
    where = {
        IdentifierLocation.HEADER: portal.headers.get("x-customer"),
        IdentifierLocation.BODY: portal.json_body.get("customer_ref"),
        IdentifierLocation.COOKIE: portal.headers.get("Cookie"),
    }[location]
    assert where == (f"sid={expected}" if location == IdentifierLocation.COOKIE else expected)
