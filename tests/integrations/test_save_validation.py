"""Save-time rules for header names, header values, URLs, JSON templates and field names.

Each rule is tried through the admin (the change form posted back with one field
changed: the error shows on that field's row and nothing is stored) and through the
API (a 400 naming the field in the one error shape, and nothing stored). The tester's
case from issue 10 is the first: an API key header name that smuggles in a header.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from integrations.models import ApiKey, AuditEvent, CustomerAuth, Endpoint, OAuthClient
from integrations.services.demo import demo_customer_ensure
from integrations.validators import (
    BODY_TEMPLATE_MAX_BYTES,
    COOKIE_NAME_RULE,
    FIELD_NAME_RULE,
    HEADER_NAME_RULE,
    HEADER_VALUE_RULE,
    TEMPLATE_MAX_DEPTH,
)
from tests.factories import (
    make_api_key,
    make_customer_auth,
    make_endpoint,
    make_environment,
    make_oauth_client,
)
from tests.integrations.api_world import client_as, error_of
from tests.integrations.test_config_validation import change_form

pytestmark = pytest.mark.django_db

INJECTED = "default\nX-Injected: 1"
FTP = "Scheme 'ftp' is not allowed: customer APIs are called over http or https only."
METADATA = "169.254.169.254 refused (cloud metadata service address)"
DEEP = "Nests arrays and objects more than 32 levels deep; flatten the structure."


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": "x"}
    for _ in range(depth - 1):
        value = {"next": value}
    return value


OVERSIZE = {"blob": "x" * BODY_TEMPLATE_MAX_BYTES}
TOO_DEEP = nested(TEMPLATE_MAX_DEPTH + 4)  # within what the JSON parsers accept (64)


@pytest.fixture
def engineer() -> Any:
    return client_as("engineer")


def admin_page(row: Any) -> str:
    meta = row._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[row.pk])


def admin_change(client: Client, row: Any, field: str, value: Any) -> str:
    """Post ``row``'s change form with ``field`` changed; the page, which must not redirect."""
    page = admin_page(row)
    text = value if isinstance(value, str) else json.dumps(value)
    response = client.post(page, {**change_form(client, page), field: text})
    assert response.status_code == 200, "saved, but should have been refused"
    return response.content.decode()


def shown_on_field_row(html: str, field: str, message: str) -> bool:
    """Whether the admin shows ``message`` in the error list on ``field``'s own row."""
    row_start = rf'<div class="form-row errors field-{field}">\s*'
    row = re.search(row_start + r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.DOTALL)
    return row is not None and escape(message) in row.group(1)


def api_error(response: Any, field: str) -> list[str]:
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "invalid"
    return error["details"][field]


# --- header names ------------------------------------------------------------------


def test_the_admin_refuses_the_testers_api_key_header_name(admin_client: Client) -> None:
    key = make_api_key()
    html = admin_change(admin_client, key, "header_name", INJECTED)
    assert shown_on_field_row(html, "header_name", HEADER_NAME_RULE)
    key.refresh_from_db()
    assert key.header_name == "api-key"
    assert not AuditEvent.objects.filter(object_repr__contains="X-Injected").exists()


def test_the_api_refuses_the_testers_api_key_header_name(engineer: Any) -> None:
    env = make_environment()
    response = engineer.post(
        "/api/v1/api-keys/",
        {"environment": env.pk, "name": "default", "header_name": INJECTED, "value": "k" * 32},
        format="json",
    )
    assert api_error(response, "header_name") == [HEADER_NAME_RULE]
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.filter(object_repr__contains="X-Injected").exists()


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("x-api-key:", HEADER_NAME_RULE),
        ("x api key", HEADER_NAME_RULE),
        ("x-api-é", HEADER_NAME_RULE),
        ("Host", "Cannot be set here: the portal's HTTP client writes Host on every request."),
        ("Content-Length", "the portal's HTTP client writes Content-Length"),
    ],
)
def test_the_api_refuses_an_api_key_header_name_that_is_no_token(
    engineer: Any, name: str, says: str
) -> None:
    key = make_api_key()
    response = engineer.patch(f"/api/v1/api-keys/{key.pk}/", {"header_name": name}, format="json")
    (message,) = api_error(response, "header_name")
    assert says in message
    key.refresh_from_db()
    assert key.header_name == "api-key"


def test_an_api_key_value_with_a_line_break_is_refused_without_being_shown(
    admin_client: Client, engineer: Any
) -> None:
    key = make_api_key()
    smuggled = "k3y-value-1234567890\r\nX-Injected: 1"
    html = admin_change(admin_client, key, "value", smuggled)
    assert shown_on_field_row(html, "value", HEADER_VALUE_RULE)
    response = engineer.patch(f"/api/v1/api-keys/{key.pk}/", {"value": smuggled}, format="json")
    assert api_error(response, "value") == [HEADER_VALUE_RULE]
    assert "k3y-value" not in html + response.content.decode()
    key.refresh_from_db()
    assert key.value is not None and key.value.reveal() == "demo-api-key"


def test_the_admin_refuses_an_identifier_header_with_a_line_break(admin_client: Client) -> None:
    endpoint = make_endpoint(identifier_location="none")
    html = admin_change(admin_client, endpoint, "identifier_header", "customer-auth\r\nX-Evil: 1")
    assert shown_on_field_row(html, "identifier_header", HEADER_NAME_RULE)
    endpoint.refresh_from_db()
    assert endpoint.identifier_header == "customer-auth"


def test_the_api_refuses_an_identifier_header_that_is_no_token(engineer: Any) -> None:
    endpoint = make_endpoint(identifier_location="none")
    response = engineer.patch(
        f"/api/v1/endpoints/{endpoint.pk}/", {"identifier_header": "customer auth"}, format="json"
    )
    assert api_error(response, "identifier_header") == [HEADER_NAME_RULE]


def test_the_admin_and_the_api_refuse_a_cookie_name_that_is_no_token(
    admin_client: Client, engineer: Any
) -> None:
    auth = make_customer_auth(mode="cookie")
    html = admin_change(admin_client, auth, "cookie_name", "session; evil=1")
    assert shown_on_field_row(html, "cookie_name", COOKIE_NAME_RULE)
    response = engineer.patch(
        f"/api/v1/customer-auths/{auth.pk}/", {"cookie_name": "session=1"}, format="json"
    )
    assert api_error(response, "cookie_name") == [COOKIE_NAME_RULE]
    auth.refresh_from_db()
    assert auth.cookie_name == "session"


# --- header templates: names and values -----------------------------------------------


def test_the_admin_refuses_a_nul_in_a_header_value(admin_client: Client) -> None:
    endpoint = make_endpoint(identifier_location="none")
    html = admin_change(admin_client, endpoint, "headers_template", {"x-trace": "a\u0000b"})
    assert shown_on_field_row(html, "headers_template", 'Header "x-trace": must not contain')
    endpoint.refresh_from_db()
    assert endpoint.headers_template == {"content-type": "application/json"}  # kept as it was


def test_the_api_refuses_a_nul_in_a_header_value(engineer: Any) -> None:
    env = make_environment()
    response = engineer.post(
        "/api/v1/endpoints/",
        {
            "environment": env.pk,
            "name": "Orders",
            "slug": "orders",
            "identifier_location": "none",
            "headers_template": {"x-trace": "a\u0000b"},
        },
        format="json",
    )
    assert api_error(response, "headers_template") == [
        'Header "x-trace": ' + HEADER_VALUE_RULE[0].lower() + HEADER_VALUE_RULE[1:]
    ]
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({INJECTED: "1"}, 'Header "default\\nX-Injected: 1": must be an HTTP header name'),
        ({"x-trace": "1\r\nX-Injected: 1"}, 'Header "x-trace": must not contain line breaks'),
        ({"x-trace": "v" * 4097}, 'Header "x-trace": must be at most 4096 characters long.'),
        ({"x" * 101: "1"}, "must be at most 100 characters long."),
        ({"x-trace": 7}, 'Header "x-trace": its value must be a string.'),
        ({"Accept": "a", "accept": "b"}, 'Headers "Accept" and "accept" are the same header.'),
        ({"transfer-encoding": "chunked"}, "writes transfer-encoding on every request"),
        (["accept", "application/json"], "Must be a JSON object of header name to value"),
    ],
)
def test_the_api_refuses_a_header_template_that_cannot_be_sent(
    engineer: Any, headers: Any, says: str
) -> None:
    endpoint = make_endpoint(identifier_location="none", headers_template={"accept": "*/*"})
    response = engineer.patch(
        f"/api/v1/endpoints/{endpoint.pk}/", {"headers_template": headers}, format="json"
    )
    (message,) = api_error(response, "headers_template")
    assert says in message
    endpoint.refresh_from_db()
    assert endpoint.headers_template == {"accept": "*/*"}


def test_a_sample_variable_sent_in_a_header_cannot_hold_a_line_break(
    admin_client: Client, engineer: Any
) -> None:
    endpoint = make_endpoint(identifier_location="none", headers_template={"x-order": "{order}"})
    says = "Variable order is sent in a header, so it must not contain line breaks"
    html = admin_change(admin_client, endpoint, "sample_variables", {"order": "1\r\nX-Evil: 1"})
    assert shown_on_field_row(html, "sample_variables", says)
    response = engineer.patch(
        f"/api/v1/endpoints/{endpoint.pk}/",
        {"sample_variables": {"order": "1\nX-Evil: 1"}},
        format="json",
    )
    (message,) = api_error(response, "sample_variables")
    assert message.startswith(says)
    endpoint.refresh_from_db()
    assert endpoint.sample_variables == {}


def test_a_test_call_refuses_a_variable_with_a_line_break_for_a_header(
    admin_client: Client, engineer: Any
) -> None:
    endpoint = make_endpoint(identifier_location="none", headers_template={"x-order": "{order}"})
    says = "Variable order is sent in a header, so it must not contain line breaks"
    page = reverse("admin:integrations_endpoint_test_call", args=[endpoint.pk])
    response = admin_client.post(page, {"variables": json.dumps({"order": "1\nX-Evil: 1"})})
    assert escape(says) in response.content.decode()
    response = engineer.post(
        f"/api/v1/endpoints/{endpoint.pk}/test-calls/",
        {"variables": {"order": "1\nX-Evil: 1"}},
        format="json",
    )
    (message,) = api_error(response, "variables")
    assert message.startswith(says)
    assert not endpoint.test_calls.exists()


# --- URLs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "url", "says"),
    [
        ("token_url", "ftp://api.customer.example/token", FTP),
        ("token_url", "http://169.254.169.254/", METADATA),
    ],
)
def test_the_admin_refuses_a_token_url_the_edge_would_refuse(
    admin_client: Client, field: str, url: str, says: str
) -> None:
    client = make_oauth_client()
    html = admin_change(admin_client, client, field, url)
    assert shown_on_field_row(html, field, says)
    client.refresh_from_db()
    assert client.token_url == "/oauth/access_token"


@pytest.mark.parametrize(
    ("resource", "field", "url", "says"),
    [
        ("environments", "base_url", "ftp://api.customer.example/", FTP),
        ("environments", "base_url", "http://169.254.169.254/", METADATA),
        ("oauth-clients", "token_url", "http://169.254.169.254/latest/", METADATA),
        ("customer-auths", "authenticate_url", "ftp://api.customer.example/login", FTP),
        ("customer-auths", "jwks_url", "http://127.0.0.1:9/jwks", "127.0.0.1 refused (loopback"),
    ],
)
def test_the_api_refuses_a_url_the_edge_would_refuse(
    engineer: Any, resource: str, field: str, url: str, says: str
) -> None:
    auth = make_customer_auth()
    rows = {
        "environments": auth.environment,
        "oauth-clients": make_oauth_client(environment=auth.environment),
        "customer-auths": auth,
    }
    row = rows[resource]
    before = getattr(row, field)
    response = engineer.patch(f"/api/v1/{resource}/{row.pk}/", {field: url}, format="json")
    (message,) = api_error(response, field)
    assert says in message
    row.refresh_from_db()
    assert getattr(row, field) == before


# --- JSON templates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [(TOO_DEEP, DEEP), (OVERSIZE, f"the limit is {BODY_TEMPLATE_MAX_BYTES:,} bytes.")],
    ids=["deep", "oversize"],
)
def test_the_admin_refuses_an_oversize_or_deep_body_template(
    admin_client: Client, body: Any, says: str
) -> None:
    endpoint = make_endpoint(identifier_location="none")
    html = admin_change(admin_client, endpoint, "body_template", body)
    assert shown_on_field_row(html, "body_template", says)
    endpoint.refresh_from_db()
    assert endpoint.body_template == {}  # kept as it was


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (TOO_DEEP, DEEP),
        (OVERSIZE, f"the limit is {BODY_TEMPLATE_MAX_BYTES:,} bytes."),
        ({"note": "a\u0000b"}, "Contains a NUL character"),
    ],
    ids=["deep", "oversize", "nul"],
)
def test_the_api_refuses_a_body_template_it_cannot_store_or_send(
    engineer: Any, body: Any, says: str
) -> None:
    env = make_environment()
    response = engineer.post(
        "/api/v1/endpoints/",
        {
            "environment": env.pk,
            "name": "Orders",
            "slug": "orders",
            "identifier_location": "none",
            "body_template": body,
        },
        format="json",
    )
    (message,) = api_error(response, "body_template")
    assert says in message
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"order-id": "1"}, 'Variable "order-id": a name is a letter or _'),
        ({"order_id": ["1"]}, "Must be a JSON object of name to string or number."),
        ({"order_id": "x" * 20_000}, "the limit is 16,384 bytes."),
    ],
)
def test_the_api_refuses_sample_variables_templates_cannot_use(
    engineer: Any, variables: Any, says: str
) -> None:
    endpoint = make_endpoint(identifier_location="none")
    response = engineer.patch(
        f"/api/v1/endpoints/{endpoint.pk}/", {"sample_variables": variables}, format="json"
    )
    (message,) = api_error(response, "sample_variables")
    assert says in message


@pytest.mark.parametrize(
    ("assertions", "says"),
    [
        ([{"type": "json_exist", "path": "id"}], 'Assertion 1: unknown type "json_exist"'),
        ([{"type": "json_exists"}], "Assertion 1: a json_exists assertion needs path."),
        (
            [{"type": "status", "value": 200, "vlaue": 1}],
            "Assertion 1: a status assertion does not take vlaue; it takes value.",
        ),
        ([{"type": "json_exists", "path": "a b"}], "path must be a dotted JSON path"),
        ([{"type": "json_matches", "path": "id", "pattern": "("}], "not a valid regular exp"),
        ([{"type": "status", "value": 999}], "value must be an HTTP status code"),
        ([{"type": "max_latency_ms", "value": "fast"}], "value must be a positive number"),
        ({"type": "status", "value": 200}, "Must be a JSON list of assertions"),
    ],
)
def test_the_api_refuses_assertions_that_cannot_be_evaluated(
    engineer: Any, assertions: Any, says: str
) -> None:
    endpoint = make_endpoint(identifier_location="none")
    response = engineer.patch(
        f"/api/v1/endpoints/{endpoint.pk}/", {"assertions": assertions}, format="json"
    )
    (message,) = api_error(response, "assertions")
    assert says in message
    endpoint.refresh_from_db()
    assert endpoint.assertions == []


def test_the_admin_refuses_an_assertion_of_an_unknown_type(admin_client: Client) -> None:
    endpoint = make_endpoint(identifier_location="none")
    html = admin_change(admin_client, endpoint, "assertions", [{"type": "json_has", "path": "x"}])
    assert shown_on_field_row(html, "assertions", 'Assertion 1: unknown type "json_has"')
    endpoint.refresh_from_db()
    assert endpoint.assertions == []


# --- field names -------------------------------------------------------------------


def test_the_admin_refuses_a_body_field_name_with_a_space(admin_client: Client) -> None:
    endpoint = make_endpoint(identifier_location="none")
    html = admin_change(admin_client, endpoint, "identifier_body_field", "customer auth")
    assert shown_on_field_row(html, "identifier_body_field", FIELD_NAME_RULE)
    endpoint.refresh_from_db()
    assert endpoint.identifier_body_field == "customer_auth"


def test_the_admin_refuses_a_token_field_name_with_a_space(admin_client: Client) -> None:
    client = make_oauth_client()
    html = admin_change(admin_client, client, "access_token_field", "access token")
    assert shown_on_field_row(html, "access_token_field", FIELD_NAME_RULE)
    client.refresh_from_db()
    assert client.access_token_field == "access_token"


@pytest.mark.parametrize(
    ("resource", "field", "value"),
    [
        ("oauth-clients", "access_token_field", "access token"),
        ("oauth-clients", "expires_in_field", "expires\nin"),
        ("customer-auths", "token_field", "{JWT}"),
        ("customer-auths", "username_field", "user name"),
        ("endpoints", "identifier_body_field", "customer\tauth"),
    ],
)
def test_the_api_refuses_a_field_name_outside_the_pattern(
    engineer: Any, resource: str, field: str, value: str
) -> None:
    env = make_environment()
    rows = {
        "oauth-clients": make_oauth_client(environment=env),
        "customer-auths": make_customer_auth(environment=env),
        "endpoints": make_endpoint(environment=env, identifier_location="none"),
    }
    row = rows[resource]
    before = getattr(row, field)
    response = engineer.patch(f"/api/v1/{resource}/{row.pk}/", {field: value}, format="json")
    assert api_error(response, field) == [FIELD_NAME_RULE]
    row.refresh_from_db()
    assert getattr(row, field) == before


def test_the_api_refuses_an_identity_claim_with_a_space(engineer: Any) -> None:
    auth = make_customer_auth()
    response = engineer.patch(
        f"/api/v1/customer-auths/{auth.pk}/", {"identity_claim": "customer id"}, format="json"
    )
    (message,) = api_error(response, "identity_claim")
    assert "Must be a JWT claim name" in message
    assert CustomerAuth.objects.get(pk=auth.pk).identity_claim == "sub"


# --- what still saves ----------------------------------------------------------------


def test_the_demo_configuration_still_saves_through_the_admin_and_the_api(
    admin_client: Client, engineer: Any, settings: Any
) -> None:
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1:8001"]
    env = demo_customer_ensure(sandbox_url="http://127.0.0.1:8001").environments.get()
    endpoint = env.endpoints.get()
    rows = [env, *env.oauth_clients.all(), *env.customer_auths.all(), *env.api_keys.all()]
    for row in [*rows, endpoint]:
        page = admin_page(row)
        response = admin_client.post(page, change_form(admin_client, page))
        assert response.status_code == 302, response.content.decode()[:3000]
    valid = {
        "headers_template": {"content-type": "application/json", "x-order": "{order_id}"},
        "body_template": {"query": {"order": "{order_id}", "fields": ["id", "status"]}},
        "sample_variables": {"order_id": "A-1001"},
        "assertions": [
            {"type": "json_exists", "path": "customer.id"},
            {"type": "json_matches", "path": "orders.0.id", "pattern": "^A-"},
            {"type": "max_latency_ms", "value": 800},
            {"type": "status", "value": 200},
        ],
    }
    response = engineer.patch(f"/api/v1/endpoints/{endpoint.pk}/", valid, format="json")
    assert response.status_code == 200, response.content
    endpoint.refresh_from_db()
    assert endpoint.sample_variables == {"order_id": "A-1001"}
    assert OAuthClient.objects.get(environment=env).token_url == "/oauth/access_token"
