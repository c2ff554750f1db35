"""Every path under /api/ answers the API's JSON error shape, DEBUG on or off; other paths
keep Django's HTML 404 page. The one exception: a crash outside DRF's views with DEBUG on
gets Django's debug page, since Django then never calls handler500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import TokenScope
from accounts.tokens import api_token_create
from integrations.api.views import CustomerViewSet
from tests.factories import make_user
from tests.integrations.api_world import error_of

pytestmark = pytest.mark.django_db

UNKNOWN_API_PATHS = [
    "/api/v1/no-such-resource/",
    "/api/v1/customers/1/no-such-action/",
    "/api/v2/customers/",
    "/api/",
    "/api/nothing-here",
]


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request: Any, settings: Any) -> bool:
    settings.DEBUG = request.param
    return request.param


@pytest.fixture(params=["anonymous", "token"])
def caller(request: Any) -> dict[str, Any]:
    if request.param == "anonymous":
        return {}
    _, raw = api_token_create(user=make_user("engineer"), name="tool", scope=TokenScope.WRITE)
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.mark.parametrize("path", UNKNOWN_API_PATHS)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_paths_answer_the_json_not_found_shape(
    debug: bool, caller: dict[str, Any], client: Client, path: str, method: str
) -> None:
    response = getattr(client, method)(path, **caller)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    error = error_of(response)
    assert error["code"] == "not_found"
    assert error["message"] == f"No such API route: {method.upper()} {path}."


def test_a_post_without_the_trailing_slash_says_which_path_was_meant(
    debug: bool, caller: dict[str, Any], client: Client
) -> None:
    response = client.post(
        "/api/v1/customers", {"name": "Acme"}, content_type="application/json", **caller
    )

    assert response.status_code == 404
    error = error_of(response)
    assert error["details"] == {"did_you_mean": "/api/v1/customers/"}
    assert "API paths end with a slash: /api/v1/customers/" in error["message"]


def test_a_get_without_the_trailing_slash_still_redirects_to_the_route(
    debug: bool, client: Client
) -> None:
    response = client.get("/api/v1/customers?ordering=name")

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/customers/?ordering=name"


def test_a_wrong_method_on_a_real_route_answers_the_json_shape(
    debug: bool, caller: dict[str, Any], client: Client
) -> None:
    response = client.delete("/api/v1/overview/", **caller)

    expected = (405, "method_not_allowed") if caller else (401, "not_authenticated")
    assert (response.status_code, error_of(response)["code"]) == expected


def test_a_missing_object_answers_the_json_shape(debug: bool, client: Client) -> None:
    _, raw = api_token_create(user=make_user("viewer"), name="tool", scope=TokenScope.READ)

    response = client.get("/api/v1/customers/999999/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_other_unknown_paths_keep_the_html_not_found_page(client: Client) -> None:
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"Not Found" in response.content


def test_a_crash_outside_drf_under_api_answers_the_json_server_error_only_with_debug_off(
    debug: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: str) -> None:
        raise RuntimeError("resolver broke")

    # A real crash in a plain Django view under /api/ cannot be provoked otherwise.
    monkeypatch.setattr("integrations.api.errors.resolve", broken)
    client = Client(raise_request_exception=False)

    response = client.post("/api/v1/customers")

    assert response.status_code == 500
    if debug:
        # Django answers with its technical 500 page and never calls handler500.
        assert response["Content-Type"].startswith("text/html")
        assert "resolver broke" in response.content.decode()
        return
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "resolver broke" not in response.content.decode()


def test_a_crash_inside_a_drf_view_answers_the_json_server_error_debug_on_or_off(
    debug: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("view broke")

    monkeypatch.setattr(CustomerViewSet, "list", broken)
    _, raw = api_token_create(user=make_user("engineer"), name="tool", scope=TokenScope.READ)
    client = Client(raise_request_exception=False)

    response = client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 500
    assert error_of(response)["code"] == "server_error"
    assert "view broke" not in response.content.decode()
