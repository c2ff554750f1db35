"""The customer identifier built from the JWT's claims or the session cookie, at every location.

A local customer over a real socket issues the login answer each test chooses (a JWT
with known claims, an opaque token, a session cookie) and records the business request,
so the tests assert on the header, body or cookie the customer actually received.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from django.core.exceptions import ValidationError

from integrations import clock
from integrations.choices import CustomerAuthMode, IdentifierLocation
from integrations.models import Endpoint
from integrations.services.calls import endpoint_call
from integrations.services.identifier import IdentifierError
from integrations.services.probes import endpoint_probe
from integrations.services.test_calls import test_call_run
from tests.factories import (
    make_api_key,
    make_customer_auth,
    make_endpoint,
    make_environment,
    make_oauth_client,
    make_test_user,
)
from tests.integrations.api_world import client_as, error_of
from tests.integrations.outbound_servers import HostileServer, Received, respond, serving
from tests.integrations.readiness_support import one

pytestmark = pytest.mark.django_db

CLAIMS = {
    "sub": "cust-8f3a9c2e",
    "customer": {"id": "C-7731", "tier": "gold", "tags": ["a"]},
    "https://acme.example/account": "ACC-5521",
    "iat": 1_700_000_000,
}
SIGNED = jwt.encode(CLAIMS, "customer-signing-key-of-32-bytes!!", algorithm="HS256")


@dataclass
class Login:
    """What the local customer answers to a login: a JWT in the body, or a cookie."""

    token: str = SIGNED
    cookie_name: str = ""


@dataclass
class World:
    server: HostileServer
    login: Login
    endpoint: Endpoint

    def business(self) -> list[Received]:
        return [r for r in self.server.requests if r.target.startswith("/business")]

    def received(self) -> Received:
        (request,) = self.business()
        return request

    def configure(self, **fields: Any) -> Endpoint:
        for name, value in fields.items():
            setattr(self.endpoint, name, value)
        self.endpoint.full_clean()
        self.endpoint.save()
        return self.endpoint


def customer_handler(login: Login) -> Any:
    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        if not request.target.startswith("/login"):
            return respond(conn, 200, b'{"customer_id": "C-7731"}', Content_Type="application/json")
        payload: dict[str, str] = {"expires_in": "3600"}
        headers = {"Content_Type": "application/json", "Cache_Control": "no-store"}
        if login.cookie_name:
            headers["Set_Cookie"] = f"{login.cookie_name}={login.token}; Path=/; HttpOnly"
        else:
            payload["JWT"] = login.token
        return respond(conn, 200, json.dumps(payload).encode(), **headers)

    return handler


@pytest.fixture
def world(settings: Any) -> Iterator[World]:
    login = Login()
    with serving(customer_handler(login)) as server:
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        environment = make_environment(base_url=server.url(""))
        auth = make_customer_auth(environment=environment, authenticate_url="/login")
        user = make_test_user(customer_auth=auth)
        endpoint = make_endpoint(
            environment=environment,
            name="Get profile",
            path="/business",
            customer_auth=auth,
            default_test_user=user,
            body_template={"channel": "chat"},
        )
        yield World(server, login, endpoint)


def use_cookie_mode(
    world: World, cookie_name: str = "sid", token: str = "opaque.cookie-v4lue"
) -> None:
    world.login.cookie_name, world.login.token = cookie_name, token
    auth = world.endpoint.customer_auth
    auth.mode, auth.cookie_name = CustomerAuthMode.COOKIE, cookie_name
    auth.save()


def body_of(request: Received) -> Any:
    return json.loads(request.body)


# --- what the customer receives -----------------------------------------------------


def test_the_default_format_still_sends_jwt_and_the_token_in_the_header(world: World) -> None:
    result = endpoint_call(endpoint=world.endpoint)
    assert result.ok, result.error_message
    assert world.received().header("customer-auth") == f"JWT {SIGNED}"


def test_the_default_format_still_sends_the_bare_token_in_a_body_field_and_a_cookie(
    world: World,
) -> None:
    world.configure(identifier_location=IdentifierLocation.BODY, identifier_body_field="cust")
    endpoint_call(endpoint=world.endpoint)
    world.configure(identifier_location=IdentifierLocation.COOKIE)
    endpoint_call(endpoint=world.endpoint)
    in_body, in_cookie = world.business()
    assert body_of(in_body) == {"channel": "chat", "cust": SIGNED}
    assert in_cookie.header("cookie") == f"session={SIGNED}"


def test_a_claim_of_the_jwt_goes_in_a_header_with_a_format(world: World) -> None:
    world.configure(identifier_header="X-Customer", identifier_format="ID {claims.sub}")
    result = endpoint_call(endpoint=world.endpoint)
    assert result.ok, result.error_message
    received = world.received()
    assert received.header("x-customer") == "ID cust-8f3a9c2e"
    assert "customer-auth" not in received.header_names()


def test_a_nested_claim_goes_in_a_json_body_field(world: World) -> None:
    world.configure(
        identifier_location=IdentifierLocation.BODY,
        identifier_body_field="customerId",
        identifier_format="{claims.customer.id}",
    )
    result = endpoint_call(endpoint=world.endpoint)
    assert result.ok, result.error_message
    assert body_of(world.received()) == {"channel": "chat", "customerId": "C-7731"}


def test_a_namespaced_claim_whose_name_holds_dots_is_found(world: World) -> None:
    world.configure(identifier_format="{claims.https://acme.example/account}")
    endpoint_call(endpoint=world.endpoint)
    assert world.received().header("customer-auth") == "ACC-5521"


def test_a_claim_goes_in_a_cookie(world: World) -> None:
    world.configure(identifier_location=IdentifierLocation.COOKIE, identifier_format="{claims.sub}")
    endpoint_call(endpoint=world.endpoint)
    assert world.received().header("cookie") == "session=cust-8f3a9c2e"


def test_the_session_cookies_value_goes_in_a_json_body_field(world: World) -> None:
    use_cookie_mode(world)
    world.configure(
        identifier_location=IdentifierLocation.BODY,
        identifier_body_field="sessionRef",
        identifier_format="{token}",
    )
    result = endpoint_call(endpoint=world.endpoint)
    assert result.ok, result.error_message
    received = world.received()
    assert body_of(received) == {"channel": "chat", "sessionRef": "opaque.cookie-v4lue"}
    assert received.header("cookie") is None


def test_the_session_cookie_can_be_sent_in_a_header_with_a_format(world: World) -> None:
    use_cookie_mode(world)
    world.configure(identifier_header="X-Session", identifier_format="Session {token}")
    endpoint_call(endpoint=world.endpoint)
    assert world.received().header("x-session") == "Session opaque.cookie-v4lue"


# --- a token that does not fit the format -------------------------------------------


def test_a_token_that_is_not_a_jwt_is_a_typed_error_naming_the_endpoint(world: World) -> None:
    world.login.token = "opaque-session-7c1d9e"
    world.configure(identifier_format="{claims.sub}")
    result = endpoint_call(endpoint=world.endpoint)
    assert not result.ok and isinstance(result.error, IdentifierError)
    assert result.error_code == "identifier_not_jwt"
    assert "Get profile" in result.error_message and "{claims.sub}" in result.error_message
    assert "opaque-session-7c1d9e" not in result.error_message
    assert world.business() == []  # nothing half-built was sent to the customer


def test_a_jwt_without_the_claim_is_a_typed_error_naming_the_claim(world: World) -> None:
    world.configure(identifier_format="{claims.customer.number}")
    result = endpoint_call(endpoint=world.endpoint)
    assert result.error_code == "identifier_claim_missing"
    message = result.error_message
    assert "Get profile" in message and "'customer.number'" in message
    assert SIGNED not in message and "C-7731" not in message
    assert world.business() == []


def test_a_claim_that_is_an_object_is_a_typed_error(world: World) -> None:
    world.configure(identifier_format="{claims.customer}")
    result = endpoint_call(endpoint=world.endpoint)
    assert result.error_code == "identifier_claim_not_a_value"
    assert "an object" in result.error_message and "gold" not in result.error_message


def test_a_claim_value_that_cannot_be_a_cookie_is_a_typed_error(world: World) -> None:
    world.login.token = jwt.encode({"sub": "two words"}, "k" * 32, algorithm="HS256")
    world.configure(identifier_location=IdentifierLocation.COOKIE, identifier_format="{claims.sub}")
    result = endpoint_call(endpoint=world.endpoint)
    assert result.error_code == "identifier_not_sendable" and world.business() == []


def test_a_probe_of_a_jwt_without_the_claim_fails_at_configuration_not_by_crashing(
    world: World,
) -> None:
    world.configure(identifier_format="{claims.customer.number}")
    outcome = endpoint_probe(endpoint=world.endpoint, due_at=clock.now())
    assert not outcome.ok
    assert outcome.error_code == "identifier_claim_missing"
    assert outcome.failing_step == "configuration"
    assert SIGNED not in outcome.message


# --- redaction ----------------------------------------------------------------------


def test_the_test_call_record_hides_the_jwt_and_the_claim_sent_as_identifier(world: World) -> None:
    world.configure(
        identifier_location=IdentifierLocation.BODY,
        identifier_body_field="customerId",
        identifier_format="{claims.sub}",
    )
    call = test_call_run(endpoint=world.endpoint, test_user=None, actor=None)
    assert call.ok, call.error_message
    assert body_of(world.received())["customerId"] == "cust-8f3a9c2e"  # it was sent
    stored = json.dumps([call.request, call.response, call.auth_steps, call.curl])
    assert SIGNED not in stored and SIGNED.split(".")[1] not in stored
    assert "cust-8f3a9c2e" not in stored
    assert json.loads(call.request["body"]) == {"channel": "chat", "customerId": "[REDACTED]"}


def test_readiness_evidence_hides_the_claim_sent_as_identifier(world: World) -> None:
    world.configure(
        identifier_location=IdentifierLocation.BODY,
        identifier_body_field="customerId",
        identifier_format="{claims.sub}",
    )
    result = one(world.endpoint.environment, "endpoint.accepts_complete_call")
    assert result["verdict"] == "pass", result
    assert body_of(world.received())["customerId"] == "cust-8f3a9c2e"
    stored = json.dumps(result)
    assert "cust-8f3a9c2e" not in stored and SIGNED not in stored


# --- save time ----------------------------------------------------------------------


def errors_of(endpoint: Endpoint) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as raised:
        endpoint.full_clean()
    return raised.value.message_dict


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"identifier_format": "JWT {tokn}"}, "identifier_format", ["{tokn}", "{claims.sub}"]),
        ({"identifier_format": "{claims}"}, "identifier_format", ["{claims}"]),
        ({"identifier_format": "{claims.}"}, "identifier_format", ["{claims.}"]),
        ({"identifier_format": "JWT"}, "identifier_format", ["placeholder", "{token}"]),
        ({"identifier_format": "JWT {token}\r\nX-Evil: 1"}, "identifier_format", ["one line"]),
        ({"identifier_header": "bad header"}, "identifier_header", ["header name"]),
        (
            {"identifier_location": "body", "identifier_body_field": " "},
            "identifier_body_field",
            ["Name the JSON body field"],
        ),
        (
            {"identifier_location": "body", "body_template": ["a"]},
            "body_template",
            ["JSON object"],
        ),
        (
            {"identifier_location": "cookie", "identifier_format": "Bearer {token}"},
            "identifier_format",
            ["cookie value cannot contain spaces"],
        ),
    ],
)
def test_an_identifier_setting_that_cannot_work_is_refused_at_save_time(
    world: World, fields: dict[str, Any], field: str, words: list[str]
) -> None:
    for name, value in fields.items():
        setattr(world.endpoint, name, value)
    message = " ".join(errors_of(world.endpoint)[field])
    assert all(word in message for word in words), message


def test_a_claim_placeholder_with_a_cookie_mode_customer_auth_is_refused(world: World) -> None:
    use_cookie_mode(world)
    world.endpoint.identifier_format = "{claims.sub}"
    message = errors_of(world.endpoint)["identifier_format"][0]
    assert "session cookie" in message and "{token}" in message
    assert world.endpoint.customer_auth.name in message


def test_an_identifier_header_that_carries_another_credential_is_refused(world: World) -> None:
    endpoint = world.endpoint
    endpoint.api_key = make_api_key(environment=endpoint.environment, header_name="X-Key")
    endpoint.identifier_header = "x-key"
    assert "the API key" in errors_of(endpoint)["identifier_header"][0]
    endpoint.api_key = None
    endpoint.oauth_client = make_oauth_client(environment=endpoint.environment)
    endpoint.identifier_header = "Authorization"
    assert "the bearer token" in errors_of(endpoint)["identifier_header"][0]


@pytest.mark.parametrize(
    "template",
    ["JWT {token}", "{token}", "Token {token}", "{claims.sub}", "v1:{claims.customer.id}"],
)
def test_working_identifier_formats_are_accepted(world: World, template: str) -> None:
    world.endpoint.identifier_format = template
    world.endpoint.full_clean()


def test_the_api_refuses_an_unknown_placeholder_naming_the_field(world: World) -> None:
    engineer = client_as("engineer")
    response = engineer.patch(
        f"/api/v1/endpoints/{world.endpoint.pk}/",
        {"identifier_format": "JWT {customer}"},
        format="json",
    )
    assert response.status_code == 400
    details = error_of(response)["details"]
    assert list(details) == ["identifier_format"]
    assert "{customer}" in details["identifier_format"][0]
