"""A JSON assertion on an answer that is not JSON says what came back, redacted.

A sign-in wall or a proxy page answers 200 with HTML: "JSON field 'customer' is
missing" sends people looking for a field, when the answer was never the API's.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.models import Endpoint
from tests.factories import make_api_key, make_endpoint, make_environment
from tests.integrations.api_world import client_as
from tests.integrations.outbound_servers import HostileServer, Received, respond, serving

pytestmark = pytest.mark.django_db

API_KEY = "html-page-api-key-0123456789"


def echoing_sign_in_page(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    """A careless sign-in page that prints the API key it was sent."""
    page = (
        "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n"
        f"<body><p>Key {request.header('x-api-key')} is not signed in.</p></body></html>"
    ).encode()
    return respond(conn, 200, page, Content_Type="text/html; charset=utf-8")


def plain_text(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    return respond(conn, 200, b"OK", Content_Type="text/plain")


@pytest.fixture
def upstream(request: pytest.FixtureRequest, settings: Any) -> Iterator[HostileServer]:
    with serving(request.param) as server:
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        yield server


def endpoint_on(server: HostileServer) -> Endpoint:
    environment = make_environment(base_url=server.url(""))
    return make_endpoint(
        environment=environment,
        path="/v1/customer",
        api_key=make_api_key(environment=environment, value=API_KEY, header_name="x-api-key"),
        assertions=[
            {"type": "json_exists", "path": "customer"},
            {"type": "json_equals", "path": "plan", "value": "gold"},
        ],
    )


def probe_now(endpoint: Endpoint) -> dict[str, Any]:
    response = client_as("engineer").post(f"/api/v1/endpoints/{endpoint.pk}/probe/")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("upstream", [echoing_sign_in_page], indirect=True)
def test_an_html_200_is_reported_as_html_with_its_first_bytes_redacted(
    upstream: HostileServer,
) -> None:
    result = probe_now(endpoint_on(upstream))

    assert result["ok"] is False and result["error_code"] == "assertion_failed"
    message = result["message"]
    assert message.startswith("JSON fields 'customer', 'plan' could not be checked: ")
    assert "the 200 answer is an HTML page (text/html), not JSON" in message
    assert "it begins: <!DOCTYPE html> <html><head><title>Sign in</title></head>" in message
    assert "Key [REDACTED] is not signed in" in message
    assert upstream.requests[0].header("x-api-key") == API_KEY  # it was sent, and is hidden
    assert API_KEY not in json.dumps(result)


@pytest.mark.parametrize("upstream", [plain_text], indirect=True)
def test_a_text_answer_is_named_by_its_content_type(upstream: HostileServer) -> None:
    message = probe_now(endpoint_on(upstream))["message"]

    assert "the 200 answer is text (text/plain), not JSON; it begins: OK" in message
    assert message.count("could not be checked") == 1
