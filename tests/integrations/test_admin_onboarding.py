"""Onboarding in the admin without a trap: every error shown, every added row saved,
dropdowns of the right customer, secrets kept (sealed) across a failed submit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations.choices import CustomerAuthMode, IdentifierLocation
from integrations.models import (
    ApiKey,
    AuditEvent,
    CustomerAuth,
    Endpoint,
    Environment,
    OAuthClient,
    TestUser,
)
from integrations.services.identifier import effective_format
from tests.factories import (
    make_api_key,
    make_customer_auth,
    make_endpoint,
    make_environment,
    make_oauth_client,
    make_test_user,
)
from tests.integrations.admin_pages import page_form, row_add, submitted
from tests.integrations.api_world import client_as

pytestmark = pytest.mark.django_db


def env_url(env: Environment) -> str:
    return reverse("admin:integrations_environment_change", args=[env.pk])


def endpoint_url(endpoint: Endpoint) -> str:
    return reverse("admin:integrations_endpoint_change", args=[endpoint.pk])


def post(client: Client, url: str, form: dict[str, str]) -> Any:
    return client.post(url, submitted(form))


def field_row(html: str, name: str) -> str:
    """The HTML of the admin row of field ``name`` (up to the next row)."""
    start = html.index(f"field-{name}")
    end = html.find('class="form-row', start + 1)
    return html[start : end if end != -1 else None]


def options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select is not None, name
    return re.findall(r"<option[^>]*>([^<]*)</option>", select.group(0))


@pytest.fixture
def two_customers() -> tuple[Environment, Environment]:
    """Two customers' environments, each with every kind of credential."""
    envs = []
    for name in ("Acme", "Globex"):
        env = make_environment(name=f"{name} UAT")
        make_oauth_client(environment=env, client_id=f"{name.lower()}-client")
        auth = make_customer_auth(environment=env, name=f"{name.lower()}-login")
        make_test_user(customer_auth=auth, label=f"{name.lower()}-user")
        make_api_key(environment=env, name=f"{name.lower()}-key")
        envs.append(env)
    return envs[0], envs[1]


# --- 1. clean() errors land on the page ------------------------------------------------


def test_an_endpoint_row_without_a_customer_auth_re_renders_with_the_error(
    admin_client: Client,
) -> None:
    env = make_environment()
    form = page_form(admin_client, env_url(env))
    row_add(form, "endpoints", name="Get profile", slug="getprofile")

    response = post(admin_client, env_url(env), form)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Sending the customer identifier needs a customer auth." in field_row(
        html, "identifier_location"
    )
    assert 'value="Get profile"' in html  # what was typed is still there
    assert not Endpoint.objects.exists()


def test_an_endpoint_row_that_sends_no_identifier_is_saved_without_a_customer_auth(
    admin_client: Client,
) -> None:
    env = make_environment()
    form = page_form(admin_client, env_url(env))
    row_add(form, "endpoints", name="Status", slug="status", identifier_location="none")

    assert post(admin_client, env_url(env), form).status_code == 302
    endpoint = Endpoint.objects.get(environment=env)
    assert endpoint.headers_template == {"content-type": "application/json"}
    assert endpoint.body_template == {}


def test_an_error_on_a_field_the_row_does_not_show_names_that_field(
    admin_client: Client,
) -> None:
    env = make_environment()
    auth = make_customer_auth(environment=env)
    key = make_api_key(environment=env, header_name="customer-auth")
    form = page_form(admin_client, env_url(env))
    row_add(form, "endpoints", name="P", slug="p", customer_auth=str(auth.pk), api_key=str(key.pk))

    response = post(admin_client, env_url(env), form)

    assert response.status_code == 200  # was a 500: the row has no identifier_header field
    assert "Identifier header: customer-auth already carries the API key." in (
        response.content.decode()
    )
    assert not Endpoint.objects.exists()


# --- 2. rows added at their defaults are saved ----------------------------------------


def test_a_customer_auth_row_left_at_its_defaults_is_saved(admin_client: Client) -> None:
    env = make_environment()
    form = row_add(page_form(admin_client, env_url(env)), "customer_auths")

    response = post(admin_client, env_url(env), form)

    assert response.status_code == 302
    auth = CustomerAuth.objects.get(environment=env)
    assert (auth.name, auth.authenticate_url, auth.mode) == (
        "default",
        "/auth/customer_authenticate",
        "token",
    )
    assert 'value="/auth/customer_authenticate"' in admin_client.get(env_url(env)).content.decode()


def test_an_api_key_row_left_at_its_defaults_asks_for_its_value_instead_of_vanishing(
    admin_client: Client,
) -> None:
    env = make_environment()
    form = row_add(page_form(admin_client, env_url(env)), "api_keys")

    response = post(admin_client, env_url(env), form)

    assert response.status_code == 200
    assert "This secret is required." in response.content.decode()
    assert not ApiKey.objects.exists()


# --- 3. dropdowns of the endpoint's own environment -------------------------------------


def test_the_endpoint_page_offers_only_its_environments_credentials_and_test_users(
    admin_client: Client, two_customers: tuple[Environment, Environment]
) -> None:
    acme, _ = two_customers
    endpoint = make_endpoint(environment=acme, identifier_location="none")

    html = admin_client.get(endpoint_url(endpoint)).content.decode()

    for field in ("oauth_client", "customer_auth", "api_key", "default_test_user"):
        listed = " ".join(options(html, field))
        assert "Acme" in listed and "Globex" not in listed, (field, listed)


def test_the_environment_page_rows_offer_only_that_environments_credentials(
    admin_client: Client, two_customers: tuple[Environment, Environment]
) -> None:
    acme, _ = two_customers
    make_endpoint(environment=acme, identifier_location="none")

    html = admin_client.get(env_url(acme)).content.decode()

    for prefix in ("endpoints-0", "endpoints-__prefix__"):  # a saved row and an added one
        for field in ("oauth_client", "customer_auth", "api_key"):
            listed = " ".join(options(html, f"{prefix}-{field}"))
            assert "acme" in listed.lower() and "Globex" not in listed, (prefix, field)


def test_the_add_page_groups_credentials_by_environment_and_errs_on_the_field(
    admin_client: Client, two_customers: tuple[Environment, Environment]
) -> None:
    acme, globex = two_customers
    url = reverse("admin:integrations_endpoint_add")
    form = page_form(admin_client, url)
    html = admin_client.get(url).content.decode()
    assert f'<optgroup label="{acme}">' in html and f'<optgroup label="{globex}">' in html

    other = OAuthClient.objects.get(environment=globex)
    form.update(environment=str(acme.pk), name="P", slug="p", oauth_client=str(other.pk))
    form.update(identifier_location="none")
    response = post(admin_client, url, form)

    assert response.status_code == 200
    row = field_row(response.content.decode(), "oauth_client")
    assert "Must belong to the endpoint&#x27;s environment." in row
    assert not Endpoint.objects.exists()


# --- 4. a default test user, and where to set one ----------------------------------------


def test_a_new_endpoint_gets_its_customer_auths_only_active_test_user(
    admin_client: Client,
) -> None:
    env = make_environment()
    auth = make_customer_auth(environment=env)
    user = make_test_user(customer_auth=auth)
    make_test_user(customer_auth=auth, is_active=False)
    form = page_form(admin_client, env_url(env))
    row_add(form, "endpoints", name="P", slug="p", customer_auth=str(auth.pk))

    assert post(admin_client, env_url(env), form).status_code == 302
    assert Endpoint.objects.get().default_test_user == user


def test_a_test_user_added_after_the_endpoint_becomes_its_default(admin_client: Client) -> None:
    auth = make_customer_auth()
    endpoint = make_endpoint(environment=auth.environment, customer_auth=auth)
    url = reverse("admin:integrations_customerauth_change", args=[auth.pk])
    form = page_form(admin_client, url)
    row_add(form, "test_users", label="UAT user 1", username="alice", password="alice-password")

    assert post(admin_client, url, form).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.default_test_user == TestUser.objects.get(label="UAT user 1")


def test_each_endpoint_given_a_default_test_user_is_audited(
    admin_client: Client, admin_user: Any
) -> None:
    auth = make_customer_auth()
    endpoints = [make_endpoint(environment=auth.environment, customer_auth=auth) for _ in "ab"]
    url = reverse("admin:integrations_testuser_add")
    form = page_form(admin_client, url)
    form.update(customer_auth=str(auth.pk), label="UAT user 1", username="alice")
    form["password"] = "alice-password"

    assert post(admin_client, url, form).status_code == 302
    events = AuditEvent.objects.filter(object_type="integrations.endpoint")
    audited = {(e.object_id, tuple(e.changed_fields), e.actor_id) for e in events}
    assert audited == {(str(e.pk), ("default_test_user",), admin_user.pk) for e in endpoints}


def test_a_test_call_without_a_test_user_says_where_to_set_one(demo_endpoint: Endpoint) -> None:
    Endpoint.objects.filter(pk=demo_endpoint.pk).update(default_test_user=None)

    response = client_as("engineer").post(
        f"/api/v1/endpoints/{demo_endpoint.pk}/test-calls/", {"variables": {}}, format="json"
    )

    message = response.json()["error_message"]
    assert "set Default test user on the endpoint's admin page (Credentials section)" in message


# --- 5. labels explained, secrets kept sealed across a failed submit ------------------------


def test_the_test_user_label_says_what_it_is_for(admin_client: Client) -> None:
    html = admin_client.get(reverse("admin:integrations_testuser_add")).content.decode()
    assert "A name for this login" in field_row(html, "label")


def test_a_secret_typed_into_a_failed_form_comes_back_sealed_and_saves_next_time(
    admin_client: Client,
) -> None:
    env = make_environment()
    url = reverse("admin:integrations_oauthclient_add")
    form = page_form(admin_client, url)
    form.update(environment=str(env.pk), client_id="", client_secret="typed-canary-s3cret")

    failed = post(admin_client, url, form)

    html = failed.content.decode()
    assert failed.status_code == 200 and "This field is required." in html
    assert "typed-canary-s3cret" not in html
    again = page_form_of(html)
    assert again["client_secret"] == "" and again["client_secret__sealed"]
    again["client_id"] = "acme-client"
    assert post(admin_client, url, again).status_code == 302
    saved = OAuthClient.objects.get().client_secret
    assert saved is not None and saved.reveal() == "typed-canary-s3cret"


def test_a_stored_ciphertext_posted_as_a_seal_is_not_accepted(admin_client: Client) -> None:
    stolen = make_oauth_client(secret="someone-elses-secret")
    ciphertext = OAuthClient.objects.filter(pk=stolen.pk).values_list("client_secret", flat=True)
    url = reverse("admin:integrations_oauthclient_add")
    form = page_form(admin_client, url)
    form.update(environment=str(stolen.environment_id), name="n", client_id="c")
    form["client_secret__sealed"] = str(ciphertext[0])

    response = post(admin_client, url, form)

    assert response.status_code == 200
    assert "Your typed value has expired or could not be kept" in response.content.decode()
    assert not OAuthClient.objects.filter(client_id="c").exists()


def page_form_of(html: str) -> dict[str, str]:
    from tests.integrations.admin_pages import form_read

    return form_read(html)


# --- 6. checks settings on the endpoint page -------------------------------------------


def test_retry_interval_and_thresholds_are_set_on_the_endpoint_page(admin_client: Client) -> None:
    endpoint = make_endpoint(identifier_location="none")
    form = page_form(admin_client, endpoint_url(endpoint))
    form.update(retry_interval_s="30", failure_threshold="5", success_threshold="4")

    assert post(admin_client, endpoint_url(endpoint), form).status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.retry_interval_s, endpoint.failure_threshold) == (30, 5)
    assert endpoint.success_threshold == 4


# --- 7. field names inline, one test user for cookie mode, identifier fields as sent --------


def test_the_environment_page_edits_login_and_token_field_names(admin_client: Client) -> None:
    env = make_environment()
    make_customer_auth(environment=env)
    make_oauth_client(environment=env)
    form = page_form(admin_client, env_url(env))
    form.update(
        {"customer_auths-0-token_field": "id_token", "customer_auths-0-identity_claim": "uid"}
    )
    form["oauth_clients-0-access_token_field"] = "token"

    assert post(admin_client, env_url(env), form).status_code == 302
    auth, client = CustomerAuth.objects.get(), OAuthClient.objects.get()
    assert (auth.token_field, auth.identity_claim, client.access_token_field) == (
        "id_token",
        "uid",
        "token",
    )


def test_fixing_the_login_mode_lets_the_same_test_user_log_in_at_once(
    admin_client: Client, demo_endpoint: Endpoint, sandbox: Any
) -> None:
    sandbox.set_faults(auth_mode="cookie")  # the customer answers its logins with a cookie
    first = run_test_call(demo_endpoint)
    assert first["ok"] is False  # a token-mode login finds no JWT in the answer

    auth = demo_endpoint.customer_auth
    assert auth is not None
    url = reverse("admin:integrations_customerauth_change", args=[auth.pk])
    form = page_form(admin_client, url)
    form["mode"] = CustomerAuthMode.COOKIE
    assert post(admin_client, url, form).status_code == 302
    form = page_form(admin_client, endpoint_url(demo_endpoint))
    form["identifier_location"] = IdentifierLocation.COOKIE
    assert post(admin_client, endpoint_url(demo_endpoint), form).status_code == 302

    second = run_test_call(demo_endpoint)
    assert second["ok"] is True, second["error_message"]  # not "failed 0 s ago", cooling down
    assert TestUser.objects.filter(customer_auth=auth).count() == 2  # alice and bob, no third


def run_test_call(endpoint: Endpoint) -> dict[str, Any]:
    response = client_as("engineer").post(
        f"/api/v1/endpoints/{endpoint.pk}/test-calls/", {"variables": {}}, format="json"
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


@pytest.mark.parametrize(
    ("location", "header", "body_field", "format_"),
    [
        ("body", "customer-auth", "customer_ref", "JWT {token}"),  # sent as the bare token
        ("cookie", "customer-auth", "", "JWT {token}"),
        ("header", "x-customer", "", "JWT {token}"),
    ],
)
def test_only_the_identifier_fields_of_the_chosen_location_are_kept(
    admin_client: Client, location: str, header: str, body_field: str, format_: str
) -> None:
    auth = make_customer_auth()
    endpoint = make_endpoint(environment=auth.environment, customer_auth=auth)
    form = page_form(admin_client, endpoint_url(endpoint))
    form.update(identifier_location=location, identifier_header="x-customer")
    form.update(identifier_body_field="customer_ref", identifier_format="JWT {token}")

    assert post(admin_client, endpoint_url(endpoint), form).status_code == 302
    endpoint.refresh_from_db()
    stored = (endpoint.identifier_header, endpoint.identifier_body_field)
    assert (*stored, endpoint.identifier_format) == (header, body_field, format_)


def test_an_endpoint_moved_to_the_body_and_back_to_a_header_still_sends_jwt_first(
    admin_client: Client,
) -> None:
    auth = make_customer_auth()
    endpoint = make_endpoint(environment=auth.environment, customer_auth=auth)
    for location in ("body", "header"):
        form = page_form(admin_client, endpoint_url(endpoint))
        form.update(identifier_location=location, identifier_body_field="customer_ref")
        assert post(admin_client, endpoint_url(endpoint), form).status_code == 302

    endpoint.refresh_from_db()
    assert effective_format(endpoint) == "JWT {token}"  # was "{token}": "JWT " lost


def test_the_endpoint_page_hides_the_identifier_fields_of_other_locations(
    admin_client: Client,
) -> None:
    endpoint = make_endpoint(identifier_location="none")
    html = admin_client.get(endpoint_url(endpoint)).content.decode()
    assert "portal/admin_identifier.js" in html
    assert "HTTP header location only" in field_row(html, "identifier_header")
