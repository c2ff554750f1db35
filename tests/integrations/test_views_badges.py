"""SVG status badges: colour per state, caching, and private unless PORTAL_PUBLIC_BADGES."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import TokenScope
from accounts.tokens import api_token_create
from integrations.choices import HealthState
from integrations.dashboards.badges import COLORS
from integrations.models import EndpointHealth
from tests.factories import make_user
from tests.integrations.dashboard_world import DashboardWorld, dashboard_world_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> DashboardWorld:
    return dashboard_world_build()


@pytest.fixture
def public(settings: Any) -> None:
    settings.PORTAL_PUBLIC_BADGES = True


@pytest.mark.parametrize(
    ("state", "color", "text"),
    [
        (HealthState.HEALTHY, "#4c1", "healthy"),
        (HealthState.DEGRADED, "#dfb317", "degraded"),
        (HealthState.DOWN, "#e05d44", "down"),
        (HealthState.BLOCKED_BY_AUTH, "#fe7d37", "blocked by auth"),
        (HealthState.UNKNOWN, "#9f9f9f", "unknown"),
    ],
)
def test_endpoint_badge_is_coloured_by_state(
    world: DashboardWorld, public: None, client: Client, state: str, color: str, text: str
) -> None:
    EndpointHealth.objects.filter(pk=world.healthy.pk).update(state=state)
    response = client.get("/badges/acme/uat/getprofile.svg")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    svg = response.content.decode()
    assert f'fill="{color}"' in svg and f">{text}</text>" in svg and ">portal</text>" in svg
    assert f'aria-label="portal: {text}"' in svg


def test_environment_badge_shows_the_worst_endpoint(
    world: DashboardWorld, public: None, client: Client
) -> None:
    svg = client.get("/badges/acme/uat.svg").content.decode()
    assert f'fill="{COLORS[HealthState.DOWN]}"' in svg and ">down</text>" in svg
    healthy = client.get("/badges/globex/prod.svg").content.decode()
    assert ">healthy</text>" in healthy


def test_an_endpoint_never_probed_is_unknown(
    world: DashboardWorld, public: None, client: Client
) -> None:
    assert ">unknown</text>" in client.get("/badges/acme/uat/cards.svg").content.decode()


def test_public_badges_are_revalidated_on_every_load(
    world: DashboardWorld, public: None, client: Client
) -> None:
    response = client.get("/badges/acme/uat.svg")
    assert response["Cache-Control"] == "no-cache, max-age=0"


def test_badges_are_private_by_default(world: DashboardWorld, client: Client) -> None:
    response = client.get("/badges/acme/uat.svg")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/badges/acme/uat/getprofile.svg").status_code == 401


def test_private_badges_accept_a_session_or_an_api_token(
    world: DashboardWorld, client: Client
) -> None:
    user = make_user("viewer", staff=False)
    _, raw = api_token_create(user=user, name="wiki", scope=TokenScope.READ)
    with_token = client.get("/badges/acme/uat.svg", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert with_token.status_code == 200
    assert with_token["Cache-Control"] == "private, no-cache, max-age=0"
    wrong = client.get("/badges/acme/uat.svg", HTTP_AUTHORIZATION="Bearer pt_nope_nope")
    assert wrong.status_code == 401
    client.force_login(user)
    assert client.get("/badges/acme/uat.svg").status_code == 200


def test_a_private_badge_does_not_tell_strangers_what_exists(client: Client) -> None:
    assert client.get("/badges/nobody/nothing.svg").status_code == 401


def test_unknown_badge_is_404(world: DashboardWorld, public: None, client: Client) -> None:
    assert client.get("/badges/acme/nope.svg").status_code == 404
    assert client.get("/badges/acme/uat/nope.svg").status_code == 404
