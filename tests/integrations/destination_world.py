"""An environment with one secret of every kind stored, for the destination-change tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from integrations import clock
from integrations.models import (
    AccessToken,
    ApiKey,
    AuditEvent,
    Environment,
    OAuthClient,
    TestUser,
    UserSession,
)
from tests.factories import (
    make_api_key,
    make_customer_auth,
    make_environment,
    make_oauth_client,
    make_test_user,
)

CANARIES = {
    "client_secret": "canary-dest-client-secret-41c7",
    "password": "canary-dest-password-9e02",
    "value": "canary-dest-api-key-b7d3",
    "access_token": "canary-dest-access-token-5f18",
    "session": "canary-dest-session-jwt-c640",
}


@dataclass
class Stocked:
    environment: Environment
    oauth_client: OAuthClient
    test_user: TestUser
    api_key: ApiKey

    def refresh(self) -> None:
        for obj in (self.environment, self.oauth_client, self.test_user, self.api_key):
            obj.refresh_from_db()

    def secrets_stored(self) -> dict[str, bool]:
        self.refresh()
        return {
            "client_secret": self.oauth_client.client_secret is not None,
            "password": self.test_user.password is not None,
            "value": self.api_key.value is not None,
            "access_token": AccessToken.objects.filter(oauth_client=self.oauth_client).exists(),
            "session": UserSession.objects.filter(test_user=self.test_user).exists(),
        }


ALL_STORED = dict.fromkeys(CANARIES, True)
NONE_STORED = dict.fromkeys(CANARIES, False)


def stocked_environment(*, base_url: str = "https://api.example.com") -> Stocked:
    env = make_environment(base_url=base_url)
    client = make_oauth_client(environment=env, secret=CANARIES["client_secret"])
    auth = make_customer_auth(environment=env)
    user = make_test_user(customer_auth=auth, password=CANARIES["password"])
    key = make_api_key(environment=env, value=CANARIES["value"])
    now = clock.now()
    later = now + timedelta(hours=1)
    AccessToken.objects.create(
        oauth_client=client, token=CANARIES["access_token"], issued_at=now, expires_at=later
    )
    UserSession.objects.create(
        test_user=user, token=CANARIES["session"], issued_at=now, expires_at=later
    )
    return Stocked(environment=env, oauth_client=client, test_user=user, api_key=key)


def destination_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(detail__event="destination_change").order_by("id"))
