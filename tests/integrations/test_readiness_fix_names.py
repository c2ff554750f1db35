"""Readiness fixes name what this customer built, not the guide's names.

The customer here differs from the guide everywhere: its login is ``POST /v2/session``
with ``login``/``secret`` and answers ``id_token`` (no ``ttl``); its token endpoint is
``/connect/token`` answering ``token`` and ``kind`` (no ``lifetime``) and it hands a
token to a wrong secret too; its API key header is ``x-key``. Every failing check must
say what to change in those names.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest

from integrations.choices import IdentifierLocation
from integrations.models import Environment
from integrations.services.readiness import readiness_markdown, readiness_run
from tests.factories import (
    make_api_key,
    make_customer_auth,
    make_endpoint,
    make_environment,
    make_oauth_client,
    make_test_user,
)

pytestmark = pytest.mark.django_db

GUIDE_NAMES = ("customer_authenticate", "expires_in", "issued_at", "access_token", "token_type")


class RenamedCustomer(BaseHTTPRequestHandler):
    """A customer API whose every path and field is named otherwise than in the guide."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if self.path.startswith("/connect/token"):
            # Lenient on purpose: any secret gets a token, and no lifetime is said.
            self._json(200, {"token": "opaque-access-token-0123456789", "kind": "Bearer"})
        elif self.path == "/v2/session" and form.get("login") == "carol":
            claims = {"sub": "c-42", "exp": int(time.time()) + 7200, "iat": int(time.time())}
            self._json(200, {"id_token": jwt.encode(claims, "k" * 32, algorithm="HS256")})
        elif self.path == "/v2/orders":
            self._json(200, {"orders": []})  # accepts anything: every refusal check fails
        else:
            self._json(404, {"error": "not_found"})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet test output


@pytest.fixture
def customer_url(settings: Any) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RenamedCustomer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    settings.OUTBOUND_ALLOWLIST = [f"127.0.0.1:{port}"]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def renamed(customer_url: str) -> Environment:
    environment = make_environment(base_url=customer_url)
    client = make_oauth_client(
        environment=environment,
        token_url="/connect/token",
        access_token_field="token",
        token_type_field="kind",
        expires_in_field="lifetime",
        issued_at_field="",
    )
    auth = make_customer_auth(
        environment=environment,
        authenticate_url="/v2/session",
        username_field="login",
        password_field="secret",
        token_field="id_token",
        expires_in_field="ttl",
        issued_at_field="minted",
    )
    user = make_test_user(customer_auth=auth, username="carol", password="carol-pw")
    make_endpoint(
        environment=environment,
        slug="orders",
        path="/v2/orders",
        oauth_client=client,
        customer_auth=auth,
        default_test_user=user,
        api_key=make_api_key(environment=environment, header_name="x-key"),
        identifier_location=IdentifierLocation.HEADER,
        identifier_header="x-customer",
    )
    return environment


def fixes_of(results: list[dict[str, Any]]) -> dict[str, str]:
    return {result["check"]: result["fix"] for result in results if result["fix"]}


def test_failing_checks_name_the_customers_paths_and_fields(renamed: Environment) -> None:
    report = readiness_run(environment=renamed, actor_label="test")
    fixes = fixes_of(report.results)

    assert fixes["customer_auth.login"] == "Answer /v2/session with 'id_token', 'minted' and 'ttl'."
    assert fixes["jwt.claims"] == ("Sign the JWT (never alg none) and set exp to 'minted' + 'ttl'.")
    assert fixes["oauth.token"] == (
        "Answer the client credentials grant at /connect/token with 'kind' Bearer, "
        "'token' and 'lifetime'."
    )
    assert fixes["oauth.wrong_secret"].startswith("Answer a wrong client secret at /connect/token")
    assert fixes["endpoint.requires_api_key"] == (
        "Refuse calls with a missing or wrong 'x-key' header with 401 or 403."
    )
    assert fixes["endpoint.requires_identifier"] == (
        "Refuse calls without a valid 'x-customer' header with 401."
    )


def test_no_fix_in_the_exported_report_uses_the_guides_names(renamed: Environment) -> None:
    report = readiness_run(environment=renamed, actor_label="test")
    fixes = [line for line in readiness_markdown(report).splitlines() if line.startswith("**Fix")]

    assert len(fixes) >= 6
    assert [line for line in fixes if any(name in line for name in GUIDE_NAMES)] == []


def test_a_missing_test_user_is_asked_for_at_the_customers_login(renamed: Environment) -> None:
    renamed.customer_auths.get().test_users.update(is_active=False)

    report = readiness_run(environment=renamed, actor_label="test")

    login = next(r for r in report.results if r["check"] == "customer_auth.login")
    assert login["fix"] == "Provide test user credentials for /v2/session."
