"""Save-time checks of configured URLs, through the admin and the API, and the edge after.

Base URLs and absolute credential URLs get the edge's own address policy with the
outbound allow-list; endpoint paths must stay on the base URL. A name that does not
resolve may be saved: the edge resolves and checks again on every call, which the
last tests show with a name that moves to a loopback address after it was saved.
DNS here is a table (socket.getaddrinfo is replaced): nothing leaves this machine.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from integrations.models import Endpoint, Environment
from integrations.outbound import BlockedDestination, static_resolver, urls
from integrations.services.calls import endpoint_call
from integrations.services.demo import demo_customer_ensure
from portal.devrun import load_config
from tests.factories import (
    make_customer,
    make_customer_auth,
    make_endpoint,
    make_environment,
    make_oauth_client,
)
from tests.integrations.api_world import client_as, error_of
from tests.integrations.outbound_servers import HostileServer, ok_json

pytestmark = pytest.mark.django_db

FTP = "Scheme 'ftp' is not allowed: customer APIs are called over http or https only."
NOT_A_PATH = (
    "Must be a path such as /orders/{order_id}, not a URL: the scheme and host come "
    "from the environment's base URL."
)
DNS = {
    "api.customer.example": ["93.184.216.34"],
    "internal.customer.example": ["93.184.216.34", "10.0.0.5"],
    "localhost": ["127.0.0.1"],
}


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The names this module knows; any other name fails like NXDOMAIN."""
    table = dict(DNS)
    resolve = static_resolver(table)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **kw: resolve(*a, **kw))
    return table


@pytest.fixture
def canary() -> Iterator[HostileServer]:
    """A live server on 127.0.0.1 that counts every connection it accepts."""
    server = HostileServer(ok_json)
    yield server
    server.close()


@pytest.fixture
def engineer() -> Any:
    return client_as("engineer")


def change_form(client: Client, url: str) -> dict[str, Any]:
    """What the admin change form at ``url`` posts back unchanged, inlines included."""
    response = client.get(url)
    assert response.status_code == 200
    forms = [response.context["adminform"].form]
    data: dict[str, Any] = {}
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(
            {f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()}
        )
        forms += formset.forms
    for form in forms:
        for bound in form:
            value = bound.value()
            if value is not None and value is not False:
                data[bound.html_name] = "on" if value is True else value
    return data


def admin_post(client: Client, url: str, **changes: str) -> Any:
    return client.post(url, {**change_form(client, url), **changes})


def environment_page(env: Environment) -> str:
    return reverse("admin:integrations_environment_change", args=[env.pk])


# --- the admin -------------------------------------------------------------------


def test_the_admin_refuses_an_ftp_base_url_and_says_why(admin_client: Client) -> None:
    env = make_environment(base_url="https://api.customer.example")
    response = admin_post(
        admin_client, environment_page(env), base_url="ftp://api.customer.example/"
    )
    assert response.status_code == 200
    assert escape(FTP) in response.content.decode()
    env.refresh_from_db()
    assert env.base_url == "https://api.customer.example"


def test_the_admin_names_the_internal_address_a_base_url_resolves_to(
    admin_client: Client,
) -> None:
    env = make_environment(base_url="https://api.customer.example")
    page = environment_page(env)
    response = admin_post(admin_client, page, base_url="https://internal.customer.example")
    assert (
        escape(
            "'internal.customer.example' resolves to 10.0.0.5, which is refused (private "
            "(RFC 1918) address); customer APIs must be public. For an internal test server add "
            "'internal.customer.example:443' to PORTAL_OUTBOUND_ALLOWLIST."
        )
        in response.content.decode()
    )


def test_the_admin_saves_an_allow_listed_test_server_and_a_name_not_in_dns_yet(
    admin_client: Client, settings: Any
) -> None:
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1:8001"]
    env = make_environment(base_url="https://api.customer.example")
    for url in ("http://127.0.0.1:8001", "https://uat.not-yet-live.customer.example"):
        response = admin_post(admin_client, environment_page(env), base_url=url)
        assert response.status_code == 302, response.content.decode()[:2000]
        env.refresh_from_db()
        assert env.base_url == url


def test_the_admin_refuses_an_endpoint_path_that_names_another_host(
    admin_client: Client,
) -> None:
    endpoint = make_endpoint(identifier_location="none")
    page = reverse("admin:integrations_endpoint_change", args=[endpoint.pk])
    for path in ("https://evil.example/steal", "//evil.example/steal"):
        response = admin_post(admin_client, page, path=path)
        assert response.status_code == 200
        assert escape(NOT_A_PATH) in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.path == "/account/getprofile"


def test_the_admin_refuses_a_token_url_at_the_metadata_service(admin_client: Client) -> None:
    client = make_oauth_client()
    page = reverse("admin:integrations_oauthclient_change", args=[client.pk])
    response = admin_post(admin_client, page, token_url="http://169.254.169.254/latest/")
    assert escape("169.254.169.254 refused (cloud metadata service address)") in (
        response.content.decode()
    )
    client.refresh_from_db()
    assert client.token_url == "/oauth/access_token"


def test_the_environment_page_shows_a_credential_url_whose_name_now_resolves_inside(
    admin_client: Client, dns: dict[str, list[str]]
) -> None:
    auth = make_customer_auth(jwks_url="https://keys.customer.example/jwks")
    dns["keys.customer.example"] = ["169.254.169.254"]  # moved after it was saved
    page = environment_page(auth.environment)
    response = admin_client.post(page, change_form(admin_client, page))
    assert response.status_code == 200
    assert escape("'keys.customer.example' resolves to 169.254.169.254") in (
        response.content.decode()
    )


# --- the API ---------------------------------------------------------------------


def test_the_api_refuses_an_ftp_base_url_naming_the_field(engineer: Any) -> None:
    customer = make_customer()
    response = engineer.post(
        "/api/v1/environments/",
        {"customer": customer.pk, "name": "UAT", "slug": "uat", "base_url": "ftp://x.example/"},
        format="json",
    )
    assert response.status_code == 400
    assert error_of(response)["details"] == {"base_url": [FTP]}
    assert not Environment.objects.exists()


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("http://[::ffff:0:7f00:1]:8001/", "IPv4-translated IPv6 address wrapping 127.0.0.1"),
        ("http://localhost:8001", "'localhost' resolves to 127.0.0.1"),
        ("http://127.0.0.1:8001", "127.0.0.1 refused (loopback address)"),
        ("https://ops:hunter2-in-url@api.customer.example", "Credentials in the URL"),
        ("https://api.customer.example/v1?tenant=1", "cannot have a query"),
    ],
)
def test_the_api_refuses_a_base_url_the_edge_would_refuse_and_says_why(
    engineer: Any, base_url: str, says: str
) -> None:
    env = make_environment(base_url="https://api.customer.example")
    response = engineer.patch(
        f"/api/v1/environments/{env.pk}/", {"base_url": base_url}, format="json"
    )
    assert response.status_code == 400
    (message,) = error_of(response)["details"]["base_url"]
    assert says in message
    assert "hunter2" not in response.content.decode()
    env.refresh_from_db()
    assert env.base_url == "https://api.customer.example"


def test_the_api_saves_a_public_base_url_with_a_path_and_a_name_not_in_dns_yet(
    engineer: Any,
) -> None:
    env = make_environment(base_url="https://api.customer.example")
    for url in ("https://api.customer.example/v1", "https://uat.nowhere.customer.example"):
        response = engineer.patch(
            f"/api/v1/environments/{env.pk}/", {"base_url": url}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["base_url"] == url


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("http://evil.example/x", NOT_A_PATH),
        ("HTTPS://evil.example/x", NOT_A_PATH),
        ("//evil.example/x", NOT_A_PATH),
        ("account/getprofile", "Must be a path starting with '/'"),
        ("/account/get profile", "spaces, control characters or backslashes"),
        ("/\\evil.example/x", "spaces, control characters or backslashes"),
    ],
)
def test_the_api_refuses_an_endpoint_path_that_is_not_a_path(
    engineer: Any, path: str, says: str
) -> None:
    endpoint = make_endpoint(identifier_location="none")
    response = engineer.patch(f"/api/v1/endpoints/{endpoint.pk}/", {"path": path}, format="json")
    assert response.status_code == 400
    (message,) = error_of(response)["details"]["path"]
    assert says in message


def test_a_path_may_carry_a_url_in_its_query_and_stays_on_the_base_url(engineer: Any) -> None:
    endpoint = make_endpoint(identifier_location="none")
    path = "/go?next=https://elsewhere.example/x"
    response = engineer.patch(f"/api/v1/endpoints/{endpoint.pk}/", {"path": path}, format="json")
    assert response.status_code == 200, response.content
    env = endpoint.environment
    assert env.absolute_url(path) == "https://api.example.com/go?next=https://elsewhere.example/x"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("authenticate_url", "http://10.1.2.3/login", "10.1.2.3 refused (private"),
        ("authenticate_url", "gopher://api.customer.example/", "Scheme 'gopher'"),
        ("authenticate_url", "//evil.example/login", NOT_A_PATH),
        ("jwks_url", "https://internal.customer.example/jwks", "resolves to 10.0.0.5"),
    ],
)
def test_the_api_refuses_a_customer_auth_url_the_edge_would_refuse(
    engineer: Any, field: str, value: str, says: str
) -> None:
    auth = make_customer_auth()
    response = engineer.patch(f"/api/v1/customer-auths/{auth.pk}/", {field: value}, format="json")
    assert response.status_code == 400
    (message,) = error_of(response)["details"][field]
    assert says in message


def test_the_api_saves_credential_urls_that_are_paths_or_public_urls(engineer: Any) -> None:
    client, auth = make_oauth_client(), make_customer_auth()
    token_url = "https://api.customer.example/oauth/token"
    response = engineer.patch(
        f"/api/v1/oauth-clients/{client.pk}/", {"token_url": token_url}, format="json"
    )
    assert response.status_code == 200, response.content
    response = engineer.patch(
        f"/api/v1/customer-auths/{auth.pk}/",
        {"authenticate_url": "/v2/login", "jwks_url": ""},
        format="json",
    )
    assert response.status_code == 200, response.content


def test_the_api_refuses_a_token_url_to_an_unlisted_loopback_port(engineer: Any) -> None:
    client = make_oauth_client()
    response = engineer.patch(
        f"/api/v1/oauth-clients/{client.pk}/",
        {"token_url": "http://127.0.0.1:6379/"},
        format="json",
    )
    assert response.status_code == 400
    (message,) = error_of(response)["details"]["token_url"]
    assert "add '127.0.0.1:6379' to PORTAL_OUTBOUND_ALLOWLIST" in message


# --- the demo seed and the edge after saving ---------------------------------------


def test_the_demo_seed_validates_with_the_allow_list_make_run_sets(settings: Any) -> None:
    config = load_config({})  # what `make run` starts: the sandbox on 127.0.0.1:8001
    settings.OUTBOUND_ALLOWLIST = [f"{config.sandbox_host}:{config.sandbox_port}"]
    customer = demo_customer_ensure(sandbox_url=config.sandbox_url)
    env = customer.environments.get()
    rows = [env, *env.oauth_clients.all(), *env.customer_auths.all(), *env.endpoints.all()]
    for row in rows:
        row.full_clean()
    settings.OUTBOUND_ALLOWLIST = []
    with pytest.raises(ValidationError, match="PORTAL_OUTBOUND_ALLOWLIST"):
        env.full_clean()


def test_the_edge_refuses_at_send_time_a_name_that_moved_to_loopback_after_saving(
    engineer: Any, dns: dict[str, list[str]], canary: HostileServer
) -> None:
    customer = make_customer()
    dns["moving.customer.example"] = ["93.184.216.34"]
    created = engineer.post(
        "/api/v1/environments/",
        {
            "customer": customer.pk,
            "name": "UAT",
            "slug": "uat",
            "base_url": f"http://moving.customer.example:{canary.port}",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    endpoint = make_endpoint(
        environment=Environment.objects.get(pk=created.json()["id"]), identifier_location="none"
    )
    dns["moving.customer.example"] = ["127.0.0.1"]  # the customer's DNS changed since
    result = endpoint_call(endpoint=endpoint)
    assert isinstance(result.error, BlockedDestination)
    assert "'moving.customer.example' resolves to 127.0.0.1" in result.error.message
    assert canary.accepted == 0


def test_the_edge_refuses_an_absolute_path_stored_before_paths_were_checked(
    canary: HostileServer,
) -> None:
    # Written past clean(), as rows saved before this check existed were.
    endpoint = make_endpoint(identifier_location="none", path=canary.url("/steal"))
    with pytest.raises(ValidationError, match="Must be a path"):
        endpoint.full_clean()
    result = endpoint_call(endpoint=Endpoint.objects.get(pk=endpoint.pk))
    assert isinstance(result.error, BlockedDestination)
    assert canary.accepted == 0


def test_a_slow_resolver_does_not_hold_up_a_save(monkeypatch: pytest.MonkeyPatch) -> None:
    released = threading.Event()

    def hanging(*args: Any, **kwargs: Any) -> Any:
        released.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    monkeypatch.setattr(urls, "SAVE_TIME_DNS_TIMEOUT_S", 0.2)
    env = make_environment(base_url="https://slow-dns.customer.example")
    started = time.monotonic()
    try:
        env.full_clean()  # the lookup timed out: saved, and checked again at send time
    finally:
        released.set()
    assert time.monotonic() - started < 5
