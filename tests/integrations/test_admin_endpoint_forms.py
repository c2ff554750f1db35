"""The endpoint's admin form: any ?environment= renders the add page, and the
environment page reads only its own environment's credentials."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations.models import Environment
from tests.factories import (
    make_api_key,
    make_customer_auth,
    make_endpoint,
    make_environment,
    make_oauth_client,
    make_test_user,
)

pytestmark = pytest.mark.django_db

CREDENTIAL_TABLES = ("oauthclient", "customerauth", "apikey", "testuser")


@pytest.mark.parametrize("environment", ["abc", "1,2", "-1", "²", "9" * 30])
def test_the_add_page_renders_whatever_environment_a_link_names(
    admin_client: Client, environment: str
) -> None:
    url = reverse("admin:integrations_endpoint_add")
    response = admin_client.get(url, {"environment": environment})
    assert response.status_code == 200  # was a 500 (ValueError from int())


def test_the_add_page_offers_the_credentials_of_the_environment_it_names(
    admin_client: Client,
) -> None:
    acme, globex = make_environment(name="Acme UAT"), make_environment(name="Globex UAT")
    make_oauth_client(environment=acme, client_id="acme-client")
    make_oauth_client(environment=globex, client_id="globex-client")
    url = reverse("admin:integrations_endpoint_add")

    html = admin_client.get(url, {"environment": str(acme.pk)}).content.decode()

    assert "acme-client" in html and "globex-client" not in html


def other_customers(count: int) -> None:
    """Environments of other customers, each with every kind of credential."""
    for _ in range(count):
        env = make_environment()
        make_oauth_client(environment=env)
        make_test_user(customer_auth=make_customer_auth(environment=env))
        make_api_key(environment=env)


def environment_page_queries(client: Client, env: Environment) -> list[str]:
    url = reverse("admin:integrations_environment_change", args=[env.pk])
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def unscoped_credential_reads(queries: list[str]) -> list[str]:
    """Queries that read a credential table without naming one environment."""
    return [
        sql
        for sql in queries
        if any(f'FROM "integrations_{table}"' in sql for table in CREDENTIAL_TABLES)
        and "environment_id" not in sql.partition(" WHERE ")[2]
    ]


def test_the_environment_page_reads_only_its_own_environments_credentials(
    admin_client: Client,
) -> None:
    env = make_environment()
    auth = make_customer_auth(environment=env)
    make_endpoint(environment=env, customer_auth=auth)
    environment_page_queries(admin_client, env)  # session and caches, not counted
    other_customers(1)
    few = environment_page_queries(admin_client, env)
    other_customers(6)
    many = environment_page_queries(admin_client, env)

    assert unscoped_credential_reads(many) == []  # was 12 reads of every customer's rows
    assert len(many) == len(few)
