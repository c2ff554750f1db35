"""The test call page as a trace: token fetch, customer login, business call; the variable
form and 'Copy as curl' with unset variables and claim identifiers.

Two customers share the sandbox over a real socket: Demo Bank's UAT (the guide's
getprofile) and Second Bank's production (HTTP Basic client auth, a templated query and
body). The sandbox's handler is wrapped to record every request it read, so each test
asserts on what the customer received as well as on the page, the row and the API.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any

import jwt
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.choices import ClientAuthStyle
from integrations.models import AccessToken, Endpoint, TestCall, UserSession
from integrations.services.demo import demo_customer_ensure
from sandbox.messages import Request
from sandbox.server import SandboxHandler
from tests.factories import (
    make_api_key,
    make_customer,
    make_customer_auth,
    make_endpoint,
    make_environment,
    make_oauth_client,
    make_test_user,
)
from tests.helpers import find_leaks
from tests.integrations.outbound_servers import reset_before_response, serving

pytestmark = pytest.mark.django_db

WRONG_SECRET = "wrong-client-secret-7f1c"
WRONG_PASSWORD = "wrong-password-2b9d"
KNOWN_SECRETS = ["demo-client-secret", "demo-api-key", "alice-password", "bob-password"]
UNSET_ORDER = "${VAR_ORDER_REF:?set VAR_ORDER_REF}"


@dataclass
class World:
    demo: Endpoint  # Demo Bank / UAT: the guide's getprofile, alice
    second: Endpoint  # Second Bank / Production: Basic auth, {channel} and {order_ref}, bob
    received: list[Request]  # every request the sandbox read, in order

    def paths(self) -> list[str]:
        return [request.path for request in self.received]


@pytest.fixture
def world(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    received: list[Request] = []
    answer = SandboxHandler.answer

    def recording(handler: SandboxHandler, request: Request) -> Any:
        received.append(request)
        return answer(handler, request)

    monkeypatch.setattr(SandboxHandler, "answer", recording)
    demo = Endpoint.objects.get(
        environment__customer=demo_customer_ensure(sandbox_url=sandbox.url), slug="getprofile"
    )
    yield World(demo=demo, second=_second_bank(sandbox.url), received=received)


def _second_bank(url: str) -> Endpoint:
    env = make_environment(
        base_url=url, customer=make_customer(name="Second Bank"), name="Production"
    )
    auth = make_customer_auth(environment=env, name="login")
    return make_endpoint(
        environment=env,
        name="Order profile",
        path="/account/getprofile?channel={channel}",
        headers_template={"content-type": "application/json"},
        body_template={"order_ref": "{order_ref}"},
        sample_variables={"channel": "web"},
        oauth_client=make_oauth_client(
            environment=env, secret="demo-client-secret", auth_style=ClientAuthStyle.HTTP_BASIC
        ),
        customer_auth=auth,
        api_key=make_api_key(environment=env, value="demo-api-key"),
        default_test_user=make_test_user(
            customer_auth=auth, label="bob", username="bob", password="bob-password"
        ),
    )


def run_in_admin(client: Client, endpoint: Endpoint, variables: dict[str, str]) -> Any:
    url = reverse("admin:integrations_endpoint_test_call", args=[endpoint.pk])
    return client.post(url, {"variables": json.dumps(variables)})


def detail_page(client: Client, posted: Any) -> str:
    assert posted.status_code == 302, posted.content.decode()[:3000]
    return client.get(posted["Location"]).content.decode()


def section(html: str, element_id: str, end: str = "</") -> str:
    """The element with this id up to ``end`` (its first closing tag), entities decoded."""
    start = html.index(f'id="{element_id}"')
    return unescape(html[start : html.index(end, start)])


def api_call(admin_user: User, call: TestCall) -> dict[str, Any]:
    api = APIClient()
    api.force_login(admin_user)
    return api.get(reverse("test-call-detail", args=[call.pk])).json()


def issued_tokens() -> list[str]:
    """Every access token and customer JWT the sandbox issued (read back from the cache)."""
    rows = [*AccessToken.objects.all(), *UserSession.objects.all()]
    return [row.token.reveal() for row in rows if row.token is not None]


def test_a_wrong_client_secret_shows_the_refused_token_fetch_and_why_nothing_else_was_sent(
    world: World, admin_client: Client, admin_user: User
) -> None:
    client = world.demo.oauth_client
    assert client is not None
    client.client_secret = WRONG_SECRET
    client.save()

    html = detail_page(admin_client, run_in_admin(admin_client, world.demo, {}))

    call = TestCall.objects.get()
    assert call.request == {} and call.error_code == "invalid_client"
    (step,) = call.auth_steps
    assert step["name"] == "oauth_token" and step["outcome"] == "failed"
    assert step["exchange"]["request"]["body"] == "client_id=demo-client&client_secret=[REDACTED]"
    assert step["exchange"]["response"]["status"] == 401
    assert "Step 1: OAuth token fetch" in html
    assert "client_secret=[REDACTED]" in section(html, "step-1-request")
    assert "HTTP 401" in section(html, "step-1-response")
    assert "invalid_client" in section(html, "step-1-response")
    assert "Not sent: step 1 (OAuth token fetch) failed." in section(html, "not-sent")
    assert 'id="request-json"' not in html and '<pre class="wire" id="response-json">{}' not in html
    # The sandbox got the one token request, with the wrong secret: the trace is of the wire.
    assert world.paths() == ["/oauth/access_token"]
    assert world.received[0].form()["client_secret"] == WRONG_SECRET
    body = api_call(admin_user, call)
    assert [s["kind"] for s in body["trace"]] == ["oauth_token", "business_call"]
    assert body["trace"][0]["response"]["status"] == 401
    assert body["trace"][1]["sent"] is False and "step 1" in body["trace"][1]["summary"]
    leaks = find_leaks([html, json.dumps(body)], [WRONG_SECRET, *KNOWN_SECRETS])
    assert leaks == []


def test_a_wrong_test_user_password_shows_the_good_token_then_the_refused_login(
    world: World, admin_client: Client, admin_user: User
) -> None:
    user = world.second.default_test_user
    assert user is not None
    user.password = WRONG_PASSWORD
    user.save()

    posted = run_in_admin(admin_client, world.second, {"order_ref": "A-1001"})
    html = detail_page(admin_client, posted)

    call = TestCall.objects.get()
    assert [(s["name"], s["outcome"]) for s in call.auth_steps] == [
        ("oauth_token", "fetched"),
        ("customer_auth", "failed"),
    ]
    token_step, login_step = call.auth_steps
    assert dict(token_step["exchange"]["request"]["headers"])["authorization"] == "Basic [REDACTED]"
    assert '"access_token": "[REDACTED]"' in token_step["exchange"]["response"]["body"]
    assert login_step["exchange"]["request"]["body"] == "username=bob&password=[REDACTED]"
    assert login_step["exchange"]["response"]["status"] == 401
    assert "HTTP 200" in section(html, "step-1-response")
    assert "password=[REDACTED]" in section(html, "step-2-request")
    assert "invalid_credentials" in section(html, "step-2-response")
    assert "Not sent: step 2 (Customer login) failed." in section(html, "not-sent")
    assert world.paths() == ["/oauth/access_token", "/auth/customer_authenticate"]
    assert world.received[1].form()["password"] == WRONG_PASSWORD
    trace = api_call(admin_user, call)["trace"]
    assert [s["outcome"] for s in trace] == ["fetched", "failed", "not_sent"]
    assert trace[1]["request"]["body"] == "username=bob&password=[REDACTED]"
    secrets = [WRONG_PASSWORD, *KNOWN_SECRETS, *issued_tokens()]
    assert find_leaks([html, json.dumps(trace), json.dumps(call.auth_steps)], secrets) == []


def test_a_good_call_traces_three_steps_and_another_customer_is_unaffected(
    world: World, admin_client: Client, admin_user: User
) -> None:
    client = world.demo.oauth_client
    assert client is not None
    client.client_secret = WRONG_SECRET  # Demo Bank is broken; Second Bank must not be
    client.save()
    run_in_admin(admin_client, world.demo, {})
    world.received.clear()

    posted = run_in_admin(admin_client, world.second, {"order_ref": "A-1001"})
    html = detail_page(admin_client, posted)

    call = TestCall.objects.get(endpoint=world.second)
    assert call.ok and call.status == 200
    assert world.paths() == [
        "/oauth/access_token",
        "/auth/customer_authenticate",
        "/account/getprofile",
    ]
    assert "HTTP 200" in section(html, "step-1-response")
    assert '"JWT": "[REDACTED]"' in section(html, "step-2-response")
    assert "Step 3: Business call" in html
    assert "Authorization: Bearer [REDACTED]" in section(html, "request-json")
    assert "customer-auth: JWT [REDACTED]" in section(html, "request-json")
    assert "The customer answered 200 (as expected)." in html
    trace = api_call(admin_user, call)["trace"]
    assert [s["sent"] for s in trace] == [True, True, True]
    assert all(s["response"]["elapsed_ms"] is not None for s in trace)
    secrets = [WRONG_SECRET, *KNOWN_SECRETS, *issued_tokens()]
    assert find_leaks([html, json.dumps(trace)], secrets) == []


def test_a_cached_token_step_says_that_nothing_was_sent(world: World, admin_client: Client) -> None:
    run_in_admin(admin_client, world.demo, {})
    world.received.clear()

    html = detail_page(admin_client, run_in_admin(admin_client, world.demo, {}))

    assert world.paths() == ["/account/getprofile"]
    assert "Nothing sent: the cached token was still valid." in section(html, "step-1-summary")
    assert 'id="step-1-request"' not in html and "Step 3: Business call" in html


def test_a_token_step_that_gets_no_answer_shows_its_request_and_the_transport_error(
    world: World, admin_client: Client, admin_user: User, settings: Any
) -> None:
    with serving(reset_before_response) as dead:
        settings.OUTBOUND_ALLOWLIST = [*settings.OUTBOUND_ALLOWLIST, dead.hostport]
        client = world.demo.oauth_client
        assert client is not None
        client.token_url = dead.url("/oauth/access_token")
        client.save()
        html = detail_page(admin_client, run_in_admin(admin_client, world.demo, {}))

    call = TestCall.objects.get()
    step = call.auth_steps[0]
    assert step["outcome"] == "failed" and step["exchange"]["response"] is None
    assert "client_secret=[REDACTED]" in section(html, "step-1-request")
    assert "No response arrived:" in section(html, "step-1-summary")
    assert step["error_message"] and step["error_message"] in html
    assert "Not sent: step 1 (OAuth token fetch) failed." in html
    assert world.paths() == []
    assert api_call(admin_user, call)["trace"][0]["response"] is None
    assert find_leaks([html], KNOWN_SECRETS) == []


def test_a_token_answer_without_the_configured_field_is_shown_with_the_step(
    world: World, admin_client: Client, admin_user: User
) -> None:
    client = world.second.oauth_client
    assert client is not None
    client.access_token_field = "accessToken"  # the sandbox answers access_token
    client.save()

    posted = run_in_admin(admin_client, world.second, {"order_ref": "A-1"})
    html = detail_page(admin_client, posted)

    step = TestCall.objects.get().auth_steps[0]
    assert step["outcome"] == "failed" and step["error_code"]
    assert step["exchange"]["response"]["status"] == 200
    shown = section(html, "step-1-response")
    assert "HTTP 200" in shown and '"access_token": "[REDACTED]"' in shown
    assert "accessToken" in section(html, "step-1-summary")
    assert world.paths() == ["/oauth/access_token"]
    trace = api_call(admin_user, TestCall.objects.get())["trace"]
    assert trace[0]["response"]["status"] == 200
    assert find_leaks([html, json.dumps(trace)], [*KNOWN_SECRETS, *issued_tokens()]) == []


# --- template variables ------------------------------------------------------------


def test_the_form_prefills_only_samples_and_names_the_missing_variable(
    world: World, admin_client: Client
) -> None:
    url = reverse("admin:integrations_endpoint_test_call", args=[world.second.pk])
    html = admin_client.get(url).content.decode()

    initial = admin_client.get(url).context["form"].fields["variables"].initial
    assert json.loads(initial) == {"channel": "web"}  # no "order_ref": "" to be sent
    uses = section(html, "variable-order_ref", "</tr>")
    assert "order_ref" in uses and "the body" in uses and "none: give a value" in uses
    assert "the path" in section(html, "variable-channel", "</tr>") and "web" in html
    assert "order_ref" in section(html, "variables-missing")


@pytest.mark.parametrize("given", [{"channel": "web"}, {"channel": "web", "order_ref": ""}])
def test_a_call_with_an_unset_variable_is_refused_naming_it_and_sends_nothing(
    world: World, admin_client: Client, given: dict[str, str]
) -> None:
    response = run_in_admin(admin_client, world.second, given)

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["variables"])
    assert "'order_ref' (used in the body)" in errors
    assert not TestCall.objects.exists() and world.received == []


def test_the_api_refuses_an_unset_variable_naming_it_and_sends_nothing(
    world: World, admin_user: User
) -> None:
    api = APIClient()
    api.force_login(admin_user)
    url = reverse("endpoint-test-calls", args=[world.second.pk])

    refused = api.post(url, {}, format="json")

    assert refused.status_code == 400
    assert "order_ref" in json.dumps(refused.json())
    assert not TestCall.objects.exists() and world.received == []
    sent = api.post(url, {"variables": {"order_ref": "B-2"}}, format="json")
    assert sent.status_code == 201 and sent.json()["ok"] is True
    business = world.received[-1]
    assert json.loads(business.body)["order_ref"] == "B-2"
    assert business.query_value("channel") == "web"


# --- copy as curl --------------------------------------------------------------------


def shell_env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k != "VAR_ORDER_REF"}
    secrets = {
        "CLIENT_SECRET": "demo-client-secret",
        "TEST_USER_PASSWORD": "bob-password",
        "API_KEY": "demo-api-key",
    }
    return {**environ, **secrets, **extra}


def run_script(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)


def test_copy_as_curl_with_an_unset_variable_stops_naming_it_before_any_request(
    world: World, admin_client: Client
) -> None:
    url = reverse("admin:integrations_endpoint_test_call", args=[world.second.pk])
    response = admin_client.get(url)
    html = response.content.decode()
    script = response.context["curl"]

    assert UNSET_ORDER in script and "ORDER_REF" in section(html, "curl-unset")
    stopped = run_script(script, shell_env())
    assert stopped.returncode != 0 and "set VAR_ORDER_REF" in stopped.stderr
    assert world.received == []
    ran = run_script(script, shell_env(VAR_ORDER_REF="C-3"))
    assert ran.returncode == 0, ran.stderr
    assert "HTTP/1.1 200" in ran.stdout
    assert json.loads(world.received[-1].body) == {"order_ref": "C-3"}
    assert find_leaks([html], [*KNOWN_SECRETS]) == []


def test_a_call_stopped_by_an_auth_step_still_has_a_curl_export(
    world: World, admin_client: Client
) -> None:
    user = world.second.default_test_user
    assert user is not None
    user.password = WRONG_PASSWORD
    user.save()

    html = detail_page(admin_client, run_in_admin(admin_client, world.second, {"order_ref": "D-4"}))

    script = TestCall.objects.get().curl
    assert "ACCESS_TOKEN=$(" in script and "CUSTOMER_JWT=$(" in script
    world.received.clear()
    ran = run_script(script, shell_env())  # with the right password, the script succeeds
    assert ran.returncode == 0, ran.stderr
    assert world.paths()[-1] == "/account/getprofile"
    assert "D-4" in section(html, "curl-script")
    assert find_leaks([html, script], [WRONG_PASSWORD, *KNOWN_SECRETS]) == []


def test_copy_as_curl_sends_a_claim_identifier_as_the_portal_does(
    world: World, admin_client: Client, sandbox: Any
) -> None:
    sandbox.set_faults(accept_missing=["customer_auth"])  # the sandbox expects the whole JWT
    endpoint = world.second
    endpoint.identifier_format = "JWT {claims.sub}"
    endpoint.save()

    html = detail_page(admin_client, run_in_admin(admin_client, endpoint, {"order_ref": "E-5"}))

    portal_sent = world.received[-1].header("customer-auth")
    login = json.loads(TestCall.objects.get().auth_steps[1]["exchange"]["response"]["body"])
    assert login["JWT"] == "[REDACTED]"
    session = UserSession.objects.get()
    assert session.token is not None
    sub = jwt.decode(session.token.reveal(), options={"verify_signature": False})["sub"]
    assert portal_sent == f"JWT {sub}"
    script = TestCall.objects.get().curl
    assert "CLAIM_SUB=$(" in script and "{claims.sub}" not in script
    ran = run_script(script, shell_env())
    assert ran.returncode == 0, ran.stderr
    assert world.received[-1].header("customer-auth") == portal_sent
    assert find_leaks([html, script], [*KNOWN_SECRETS, sub, session.token.reveal()]) == []
