"""The guided "new integration" flow, page by page, against the bundled sandbox.

Each step is submitted the way a browser would: the values the page pre-fills, with
what the engineer types on top. What the sandbox received is read off its socket.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations.choices import AuditAction, IdentifierLocation
from integrations.models import (
    AccessToken,
    AuditEvent,
    Customer,
    Endpoint,
    Environment,
    TestCall,
    UserSession,
)
from sandbox import server as sandbox_server_module
from sandbox.messages import Request
from sandbox.routes import dispatch
from tests.factories import make_customer, make_environment, make_oauth_client, make_user

pytestmark = pytest.mark.django_db

START = "/onboarding/"
SECRETS = ("demo-client-secret", "alice-password", "bob-password", "demo-api-key")


# --- what the sandbox received, and what a browser would submit -----------------------


@pytest.fixture
def received(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> list[Request]:
    """Every request the sandbox's routes were handed, as read off the socket."""
    seen: list[Request] = []

    def recording(state: Any, request: Request) -> Any:
        seen.append(request)
        return dispatch(state, request)

    monkeypatch.setattr(sandbox_server_module, "dispatch", recording)
    return seen


class _FormReader(HTMLParser):
    """The values the step form would submit untouched: inputs, checked boxes, selections."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._in_form = False
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id") == "step-form":
            self._in_form = True
        if not self._in_form or ("name" not in a and tag != "option"):
            return
        if tag == "input" and a.get("type") not in ("submit", "checkbox", "hidden"):
            self.values[a["name"]] = a.get("value", "")
        elif tag == "input" and a.get("type") == "checkbox" and "checked" in a:
            self.values[a["name"]] = "on"
        elif tag == "select":
            self._select = a["name"]
        elif (
            tag == "option"
            and self._select
            and ("selected" in a or self._select not in self.values)
        ):
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        if tag == "select":
            self._select = None
        if tag == "textarea" and self._textarea:
            self.values[self._textarea] = self.values[self._textarea].lstrip("\n")
            self._textarea = None


def prefilled(page: str) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(page)
    return reader.values


@dataclass
class Walk:
    """One engineer going through the flow in a client, keeping every page it was shown."""

    client: Client
    pages: list[str] = field(default_factory=list)
    url: str = START

    def open(self, url: str) -> str:
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        self.url = url
        return self._keep(response)

    def submit(self, typed: dict[str, str], *, skip: bool = False) -> str:
        """Submit the current page's form as pre-filled, with ``typed`` on top."""
        values = prefilled(self.pages[-1]) | typed | ({"skip": "1"} if skip else {})
        response = self.client.post(self.url, values, follow=True)
        assert response.status_code == 200, (self.url, response.status_code)
        self.url = response.redirect_chain[-1][0] if response.redirect_chain else self.url
        return self._keep(response)

    def _keep(self, response: Any) -> str:
        page = response.content.decode()
        self.pages.append(page)
        return page


def text(page: str) -> str:
    """The page's text as a person reads it: tags dropped, entities decoded, spaces joined."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def errors(page: str) -> str:
    """The text of every error list on the page."""
    return text(" ".join(re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, re.S)))


def onboard(
    walk: Walk,
    base_url: str,
    *,
    customer: str = "Acme Bank",
    slug: str = "acme",
    username: str = "alice",
    password: str = "alice-password",
    first_call: bool = True,
) -> Environment:
    """Every step with the sandbox's credentials, up to a first test call (or its page)."""
    walk.open(START)
    walk.submit({"name": customer, "slug": slug})
    walk.submit({"name": "UAT", "kind": "uat", "base_url": base_url})
    assert "token fetched, expires in 8 h" in text(
        walk.submit({"client_id": "demo-client", "client_secret": "demo-client-secret"})
    )
    walk.submit({})  # customer auth: the guide's defaults
    assert "logged in, JWT expires in 8 h" in text(
        walk.submit({"username": username, "password": password})
    )
    walk.submit({"value": "demo-api-key"})
    walk.submit({})  # the endpoint as pre-filled: the guide's getprofile
    if first_call:
        walk.submit({})  # run the first test call
    return Environment.objects.get(customer__slug=slug, slug="uat")


@pytest.fixture
def engineer(client: Client) -> Client:
    client.force_login(make_user("engineer"))
    return client


@pytest.fixture
def walk(engineer: Client) -> Walk:
    return Walk(engineer)


def assert_no_secret(pages: list[str], *extra: str) -> None:
    for page in pages:
        for secret in (*SECRETS, *extra):
            assert secret not in page


# --- the whole flow ---------------------------------------------------------------------


def test_an_engineer_onboards_a_customer_from_nothing_to_a_passing_first_call(
    walk: Walk, sandbox: Any, received: list[Request]
) -> None:
    env = onboard(walk, sandbox.url)

    endpoint = Endpoint.objects.select_related("oauth_client", "api_key").get(environment=env)
    assert env.customer.name == "Acme Bank" and env.base_url == sandbox.url
    client, auth, key = env.oauth_clients.get(), env.customer_auths.get(), env.api_keys.get()
    user = auth.test_users.get()
    assert client.client_secret.reveal() == "demo-client-secret"
    assert (client.token_url, auth.authenticate_url) == (
        "/oauth/access_token",
        "/auth/customer_authenticate",
    )
    assert (user.label, user.username, key.header_name) == ("alice", "alice", "api-key")
    assert (endpoint.method, endpoint.path) == ("POST", "/account/getprofile")
    assert endpoint.headers_template == {"content-type": "application/json"}
    assert endpoint.body_template == {}
    assert (endpoint.identifier_header, endpoint.identifier_format) == (
        "customer-auth",
        "JWT {token}",
    )
    assert (endpoint.oauth_client, endpoint.customer_auth, endpoint.api_key) == (client, auth, key)
    assert endpoint.default_test_user == user

    token = AccessToken.objects.get(oauth_client=client).token.reveal()
    jwt = UserSession.objects.get(test_user=user).token.reveal()
    token_fetch, login, call = received[:3]  # the readiness report calls again after
    assert token_fetch.path == "/oauth/access_token"
    assert token_fetch.query_value("grant_type") == "client_credentials"
    assert token_fetch.form() == {"client_id": "demo-client", "client_secret": "demo-client-secret"}
    assert login.path == "/auth/customer_authenticate"
    assert login.form() == {"username": "alice", "password": "alice-password"}
    assert call.path == "/account/getprofile"
    assert call.header("authorization") == f"Bearer {token}"
    assert call.header("customer-auth") == f"JWT {jwt}"
    assert call.header("api-key") == "demo-api-key"
    assert call.header("content-type") == "application/json" and call.body == b"{}"

    first_call = text(walk.pages[-1])
    stored = TestCall.objects.get(endpoint=endpoint)
    assert "PASS · HTTP 200" in first_call and stored.ok
    assert f"/admin/integrations/testcall/{stored.pk}/change/" in walk.pages[-1]
    report = env.readiness_reports.get()
    assert f"{report.summary_text()}." in first_call
    assert f"/admin/integrations/readinessreport/{report.pk}/change/" in walk.pages[-1]
    assert_no_secret(walk.pages, token, jwt)


def test_the_done_page_links_the_environment_dashboard(walk: Walk, sandbox: Any) -> None:
    env = onboard(walk, sandbox.url)
    done = walk.open(f"/onboarding/acme/{env.slug}/done/")
    assert 'href="/customers/acme/uat/"' in done
    summary = text(done[done.index('id="onboarding-summary"') :])
    assert "Get profile: POST /account/getprofile" in summary and "probed every 60 s" in summary


def step_nav(page: str) -> dict[str, tuple[str, bool]]:
    """Each step of the progress list: (its link, or "" when none; whether it is ticked)."""
    start = page.index('class="onboarding-steps"')
    nav = page[start : page.index("</nav>", start)]
    steps = {}
    for item in re.findall(r"<li[^>]*>(.*?)</li>", nav, re.S):
        title = re.sub(r"^\d+\. ", "", text(item).replace("✓", "").strip())
        link = re.search(r'href="([^"]+)"', item)
        steps[title] = (link.group(1) if link else "", "✓" in item)
    return steps


def cell(page: str, id_: str) -> str:
    """The text of the table cell with id ``id_``."""
    start = page.index(f'id="{id_}">') + len(f'id="{id_}">')
    return text(page[start : page.index("</td>", start)])


def test_a_failing_first_call_leaves_the_flow_not_set_up_and_says_fail(
    walk: Walk, sandbox: Any
) -> None:
    env = onboard(walk, sandbox.url, first_call=False)
    sandbox.set_faults(error_rate=1.0, error_status=503)
    walk.submit({})  # the first call: the customer's API answers 503
    assert "FAIL · HTTP 503" in text(walk.pages[-1])

    done = walk.open(f"/onboarding/acme/{env.slug}/done/")
    assert "Acme Bank / UAT is not set up yet" in text(done) and "is set up" not in text(done)
    assert step_nav(done)["First call"][1] is False and step_nav(done)["Endpoint"][1] is True
    last_call = cell(done, "summary-test_call")
    assert last_call.startswith("FAIL · HTTP 503")

    sandbox.set_faults(error_rate=0.0)
    walk.open(f"/onboarding/acme/{env.slug}/first-call/")
    walk.submit({})
    done = walk.open(f"/onboarding/acme/{env.slug}/done/")
    assert "Acme Bank / UAT is set up" in text(done) and step_nav(done)["First call"][1]
    assert cell(done, "summary-test_call").startswith("PASS · HTTP 200")


def test_an_oauth_client_the_customer_refused_is_not_ticked_done(walk: Walk, sandbox: Any) -> None:
    env = onboard(walk, sandbox.url)
    walk.open(f"/onboarding/acme/{env.slug}/oauth-client/")
    assert "invalid_client" in text(walk.submit({"client_secret": "wrong-client-secret"}))

    done = walk.open(f"/onboarding/acme/{env.slug}/done/")
    assert step_nav(done)["OAuth client"] == (f"/onboarding/acme/{env.slug}/oauth-client/", False)
    assert step_nav(done)["First call"][1] is True  # the call passed, before the new secret
    refused = cell(done, "summary-oauth_client")
    assert refused == "demo-client refused by the customer"
    assert "is not set up yet" in text(done) and "The customer refused a credential" in text(done)
    assert "wrong-client-secret" not in done
    start = walk.open(START)
    assert 'href="/onboarding/acme/resume/">Continue' in start
    resumed = walk.client.get("/onboarding/acme/resume/")
    assert resumed["Location"] == f"/onboarding/acme/{env.slug}/oauth-client/"


def test_every_row_the_flow_writes_is_audited_with_its_engineer(walk: Walk, sandbox: Any) -> None:
    env = onboard(walk, sandbox.url)
    created = AuditEvent.objects.filter(action=AuditAction.CREATE, actor__isnull=False)
    assert sorted(created.values_list("object_type", flat=True)) == [
        "integrations.apikey",
        "integrations.customer",
        "integrations.customerauth",
        "integrations.endpoint",
        "integrations.environment",
        "integrations.oauthclient",
        "integrations.testuser",
    ]
    fields = created.get(object_type="integrations.oauthclient").changed_fields
    assert "client_secret" in fields and "demo-client-secret" not in str(fields)
    refreshed = AuditEvent.objects.filter(action=AuditAction.REFRESH_TOKEN).count()
    assert refreshed == 2  # the token fetch and the login, each checked when saved
    assert AuditEvent.objects.filter(
        action=AuditAction.TEST_CALL, object_id=str(env.endpoints.get().pk)
    ).exists()


# --- each step told the truth at once ------------------------------------------------


def _to_oauth_step(walk: Walk, base_url: str) -> None:
    walk.open(START)
    walk.submit({"name": "Acme Bank", "slug": "acme"})
    walk.submit({"name": "UAT", "base_url": base_url})


def test_a_wrong_client_secret_shows_invalid_client_and_keeps_the_other_inputs(
    walk: Walk, sandbox: Any
) -> None:
    _to_oauth_step(walk, sandbox.url)
    typed = {"client_id": "demo-client", "client_secret": "wrong-client-secret", "scope": "profile"}
    page = walk.submit(typed)

    assert walk.url.endswith("/oauth-client/")
    assert "invalid_client" in text(page) and "client_id or client_secret is wrong" in text(page)
    kept = prefilled(page)
    assert (kept["client_id"], kept["scope"]) == ("demo-client", "profile")
    assert kept["client_secret"] == "" and "wrong-client-secret" not in page
    page = walk.submit({"client_secret": "demo-client-secret"})
    assert "token fetched, expires in 8 h" in text(page) and walk.url.endswith("/customer-auth/")
    assert Environment.objects.get().oauth_clients.get().scope == "profile"


@pytest.mark.parametrize(
    ("base_url", "why"),
    [
        ("http://10.0.0.7", "10.0.0.7 refused (private (RFC 1918) address)"),
        ("http://169.254.169.254", "169.254.169.254 refused (cloud metadata service address)"),
        ("http://127.0.0.1:1", "127.0.0.1 refused (loopback address)"),  # not the sandbox's port
    ],
)
def test_a_base_url_on_a_blocked_address_is_refused_at_the_environment_step(
    walk: Walk, sandbox: Any, base_url: str, why: str
) -> None:
    walk.open(START)
    walk.submit({"name": "Acme Bank", "slug": "acme"})
    page = walk.submit({"name": "UAT", "base_url": base_url})

    assert walk.url == "/onboarding/acme/environment/"
    field_errors = text(page[page.index('id="field-base_url"') :].split("</ul>")[0])
    assert why in field_errors and "customer APIs must be public" in field_errors
    assert not Environment.objects.exists()


@pytest.mark.parametrize("step", ["customer", "environment"])
def test_a_refused_slug_change_keeps_every_link_on_the_flows_own_customer(
    walk: Walk, sandbox: Any, step: str
) -> None:
    _to_oauth_step(walk, sandbox.url)
    make_environment(customer=make_customer(name="Bravo Bank", slug="bravo"), slug="uat")
    walk.open(START)
    walk.open("/onboarding/acme/environment/")
    walk.submit({"name": "Production", "slug": "prod", "base_url": sandbox.url})
    url = "/onboarding/acme/" if step == "customer" else "/onboarding/acme/uat/environment/"
    taken = "bravo" if step == "customer" else "prod"

    walk.open(url)
    page = walk.submit({"slug": taken})
    assert walk.url == url and "already exists" in errors(page)
    links = [link for link in re.findall(r'href="(/onboarding/[^"]*)"', page) if link != START]
    own = "/onboarding/acme/uat/"  # the flow's customer and environment, as before the submit
    assert len(links) >= 7
    assert all(link == "/onboarding/acme/" or link.startswith(own) for link in links), links
    assert Customer.objects.get(name="Acme Bank").slug == "acme"


@pytest.mark.parametrize(
    ("name_typed", "slug_made"),
    [
        ("customer", "-".join(["acme"] * 16)),  # "acme-" * 16 is 80 long: its "-" is dropped
        ("environment", "-".join(["staging"] * 10)),
    ],
)
def test_a_slug_made_from_a_long_name_is_cut_to_fit(
    walk: Walk, sandbox: Any, name_typed: str, slug_made: str
) -> None:
    walk.open(START)
    customer = "Acme " * 30 if name_typed == "customer" else "Acme Bank"
    walk.submit({"name": customer, "slug": ""})
    customer_slug = Customer.objects.get().slug
    environment = "Staging " * 12 if name_typed == "environment" else "UAT"
    walk.submit({"name": environment, "slug": "", "base_url": sandbox.url})

    assert walk.url.endswith("/oauth-client/"), errors(walk.pages[-1])
    made = customer_slug if name_typed == "customer" else Environment.objects.get().slug
    assert made == slug_made and len(made) == 79


def test_a_wrong_test_user_password_shows_the_customers_answer(walk: Walk, sandbox: Any) -> None:
    _to_oauth_step(walk, sandbox.url)
    walk.submit({"client_id": "demo-client", "client_secret": "demo-client-secret"})
    walk.submit({})
    page = walk.submit({"username": "alice", "password": "not-alices-password"})
    assert walk.url.endswith("/test-user/")
    assert "invalid_credentials" in text(page) and "username or password is wrong" in text(page)
    assert "not-alices-password" not in page and prefilled(page)["username"] == "alice"


def test_a_refused_form_says_the_typed_secret_must_be_entered_again(
    walk: Walk, sandbox: Any
) -> None:
    _to_oauth_step(walk, sandbox.url)
    page = walk.submit(
        {
            "token_url": "oauth token",
            "client_id": "demo-client",
            "client_secret": "demo-client-secret",
        }
    )
    assert "Must be a path starting with '/'" in errors(page)
    assert "a secret is never sent back to your browser, so enter it again" in errors(page)
    assert "demo-client-secret" not in page
    assert not Environment.objects.get().oauth_clients.exists()


def test_bad_endpoint_input_gets_field_errors_not_a_server_error(walk: Walk, sandbox: Any) -> None:
    onboard(walk, sandbox.url, slug="acme")
    walk.open("/onboarding/acme/uat/endpoint/")
    page = walk.submit({"headers_template": '{"content-type": '})
    assert "Enter a valid JSON" in errors(page)
    page = walk.submit({"headers_template": "{}", "identifier_header": "bad header", "path": "x"})
    assert "Must be a path starting with '/'" in errors(page)
    assert "Identifier header" in text(page) and "token" in errors(page)
    assert Endpoint.objects.get().path == "/account/getprofile"


# --- skipping, going back, resuming ------------------------------------------------------


def test_skipping_customer_auth_and_api_key_makes_an_endpoint_that_sends_neither(
    walk: Walk, sandbox: Any, received: list[Request]
) -> None:
    sandbox.set_faults(accept_missing=["customer_auth", "api_key"])
    _to_oauth_step(walk, sandbox.url)
    walk.submit({"client_id": "demo-client", "client_secret": "demo-client-secret"})
    walk.submit({}, skip=True)
    assert walk.url.endswith("/api-key/")  # no customer auth: no test user to add
    page = walk.submit({}, skip=True)
    assert walk.url.endswith("/endpoint/")
    assert prefilled(page)["identifier_location"] == IdentifierLocation.NONE
    walk.submit({})
    walk.submit({})

    endpoint = Endpoint.objects.get()
    assert (endpoint.customer_auth, endpoint.api_key, endpoint.default_test_user) == (
        None,
        None,
        None,
    )
    call = next(r for r in received if r.path == "/account/getprofile")
    assert call.header("customer-auth") is None and call.header("api-key") is None
    assert "PASS · HTTP 200" in text(walk.pages[-1])


def test_a_flow_left_half_way_is_resumed_where_it_stopped(
    walk: Walk, engineer: Client, sandbox: Any
) -> None:
    _to_oauth_step(walk, sandbox.url)
    walk.submit({"client_id": "demo-client", "client_secret": "demo-client-secret"})

    start = walk.open(START)
    assert 'href="/onboarding/acme/resume/">Continue' in start
    resumed = engineer.get("/onboarding/acme/resume/")
    assert resumed.status_code == 302
    assert resumed["Location"] == "/onboarding/acme/uat/customer-auth/"
    oauth = walk.open("/onboarding/acme/uat/oauth-client/")  # back to a saved step
    assert prefilled(oauth)["client_id"] == "demo-client"
    assert "Currently set · fingerprint" in text(oauth) and "demo-client-secret" not in oauth
    page = walk.submit({"scope": "profile"})  # a blank secret keeps the stored one
    assert "token fetched" in text(page)
    assert Environment.objects.get().oauth_clients.get().client_secret.reveal() == (
        "demo-client-secret"
    )


def test_the_start_page_costs_as_many_queries_for_twenty_customers_as_for_one(
    engineer: Client, django_assert_max_num_queries: Any
) -> None:
    def customer_half_onboarded() -> None:
        make_oauth_client(environment=make_environment(customer=make_customer()))

    customer_half_onboarded()
    engineer.get(START)  # the session and role are read once per request anyway
    with CaptureQueriesContext(connection) as one:
        engineer.get(START)
    for _ in range(19):
        customer_half_onboarded()

    with django_assert_max_num_queries(len(one)):
        page = engineer.get(START).content.decode()
    assert page.count(">Continue</a>") == 20


def test_a_new_base_url_given_on_going_back_clears_the_secrets_stored_for_the_old_host(
    walk: Walk, sandbox: Any, settings: Any
) -> None:
    env = onboard(walk, sandbox.url)
    settings.OUTBOUND_ALLOWLIST = [*settings.OUTBOUND_ALLOWLIST, "127.0.0.1:1"]
    walk.open("/onboarding/acme/uat/environment/")
    page = walk.submit({"base_url": "http://127.0.0.1:1"})

    assert "so the stored secrets that went there were cleared" in text(page)
    client = env.oauth_clients.get()
    assert client.client_secret is None and env.api_keys.get().value is None
    oauth = walk.open("/onboarding/acme/uat/oauth-client/")
    assert "Currently not set" in text(oauth)


# --- one customer's credentials are never another's -------------------------------------


def test_two_customers_onboarded_one_after_the_other_keep_their_own_credentials(
    walk: Walk, sandbox: Any, received: list[Request]
) -> None:
    first = onboard(walk, sandbox.url, customer="Acme Bank", slug="acme")
    seen_before = len(walk.pages) + 1  # the start page lists every customer, on purpose
    second = onboard(
        walk,
        sandbox.url,
        customer="Bravo Bank",
        slug="bravo",
        username="bob",
        password="bob-password",
    )

    for env, name in ((first, "alice"), (second, "bob")):
        endpoint = Endpoint.objects.get(environment=env)
        credentials = (endpoint.oauth_client, endpoint.customer_auth, endpoint.api_key)
        assert {c.environment_id for c in credentials} == {env.pk}
        assert endpoint.default_test_user.username == name
    assert not any("Acme" in page for page in walk.pages[seen_before:])
    bravo_call = TestCall.objects.get(endpoint__environment=second)
    assert "Brown" in bravo_call.response["body"] and "Anderson" not in bravo_call.response["body"]
    logins = [r.form()["username"] for r in received if r.path == "/auth/customer_authenticate"]
    assert list(dict.fromkeys(logins)) == ["alice", "bob"]  # the readiness report logs in too
    assert Customer.objects.count() == 2


def test_a_viewer_cannot_open_the_flow(client: Client) -> None:
    client.force_login(make_user("viewer"))
    assert client.get(START).status_code == 403
