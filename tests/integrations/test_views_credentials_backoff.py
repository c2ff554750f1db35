"""The environment page's credentials table says when a failing credential is tried again."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.urls import reverse

from integrations.models import AccessToken, OAuthClient
from integrations.services.probe_runs import endpoint_probe_now
from integrations.services.tokens import failure_next_attempt_at
from tests.factories import make_endpoint, make_environment, make_user
from tests.integrations.outbound_servers import HostileServer, Received, respond, serving

pytestmark = pytest.mark.django_db


def token_endpoint_down(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    return respond(conn, 500, b'{"error": "server_error"}', Content_Type="application/json")


def test_a_failing_credential_shows_its_next_attempt_and_a_healthy_one_a_dash(
    client: Any, settings: Any
) -> None:
    with serving(token_endpoint_down) as server:
        settings.OUTBOUND_ALLOWLIST = [server.hostport]
        environment = make_environment(base_url=server.url())
        failing = OAuthClient.objects.create(
            environment=environment,
            name="failing",
            client_id="failing-client",
            client_secret="s3cret-value",
        )
        OAuthClient.objects.create(
            environment=environment,
            name="idle",
            client_id="idle-client",
            client_secret="s3cret-value",
        )
        endpoint = make_endpoint(environment=environment, oauth_client=failing, path="/orders")
        result = endpoint_probe_now(endpoint=endpoint)
    assert result.failing_step == "oauth_token"
    at = failure_next_attempt_at(row=AccessToken.objects.get(oauth_client=failing))
    assert at is not None

    client.force_login(make_user("viewer"))
    url = reverse("integrations:environment", args=[environment.customer.slug, environment.slug])
    page = client.get(url, {"partial": 1}).content.decode()
    table = page.split('id="credentials-table"')[1].split("</table>")[0]
    rows = {row.split("<code>")[1].split("</code>")[0]: row for row in table.split("<tr")[2:]}
    assert f'datetime="{at.isoformat()}"' in rows["failing-client"]
    assert at.strftime("%H:%M:%S") in rows["failing-client"]
    assert '<td class="next-attempt">—</td>' in rows["idle-client"]
