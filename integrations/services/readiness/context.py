"""What the readiness checks of one run share: fresh logins, fresh tokens, known secrets.

Every token here is fetched fresh (token_fetch), never read from or written to the
token cache: the point is to watch the customer's behaviour (two logins of one user,
logins of two users), and live traffic keeps using its cached tokens undisturbed.
Each fetch happens once per run and is shared by the checks that need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from integrations.choices import CustomerAuthMode
from integrations.crypto import SecretDecryptionError, fingerprint
from integrations.errors import PortalError
from integrations.models import CustomerAuth, Endpoint, Environment, OAuthClient, TestUser
from integrations.outbound import OutboundError
from integrations.services.readiness.jwts import DecodedJwt, jwt_decode_unverified
from integrations.services.token_fetch import Fetched, oauth_token_fetch, user_session_fetch

if TYPE_CHECKING:
    from integrations.services.readiness.sessions import Resolved

FetchFailure = (OutboundError, PortalError)


@dataclass(frozen=True)
class Identity:
    """The customer identifier a login yields: a JWT claim, or the token or cookie itself."""

    value: str
    source: str  # "claim 'sub'", "token" or "cookie"
    jwt: DecodedJwt | None = None

    @property
    def from_claim(self) -> bool:
        return self.source.startswith("claim")

    def shown(self) -> str:
        """A claim is shown as it is; a whole token or cookie only as a fingerprint."""
        if self.from_claim:
            return self.value
        return f"fingerprint {fingerprint(self.value)}"


@dataclass
class Outcome:
    """One fresh fetch: the token as fetched, or why it failed."""

    fetched: Fetched | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.fetched is not None


@dataclass
class Login(Outcome):
    """A fresh login of a test user, with the identity it yields."""

    user: TestUser | None = None
    identity: Identity | None = None
    resolved: Resolved | None = None  # cookie mode: the customer the API resolves it to


def identity_of(*, auth: CustomerAuth, token: str) -> Identity:
    """The identifier in ``token``: the configured claim of a JWT, else the value itself."""
    decoded = jwt_decode_unverified(token)
    if decoded is not None:
        claim = auth.identity_claim or "sub"
        value = decoded.claims.get(claim)
        return Identity("" if value is None else str(value), f"claim '{claim}'", decoded)
    source = "cookie" if auth.mode == CustomerAuthMode.COOKIE else "token"
    return Identity(token, source)


@dataclass
class ReadinessContext:
    """The environment under check and what the run has fetched and must redact."""

    environment: Environment
    secrets: list[str] = field(default_factory=list)
    _logins: dict[tuple[int, int], Login] = field(default_factory=dict)
    _bearers: dict[int, Outcome] = field(default_factory=dict)

    def remember(self, *values: str | None) -> None:
        """Add values the stored report must never show (tokens, made-up wrong secrets)."""
        self.secrets.extend(value for value in values if value)

    def customer_auths(self) -> list[CustomerAuth]:
        return list(self.environment.customer_auths.order_by("name"))

    def oauth_clients(self) -> list[OAuthClient]:
        return list(self.environment.oauth_clients.order_by("name"))

    def endpoints(self) -> list[Endpoint]:
        related = ("environment", "oauth_client", "customer_auth", "api_key", "default_test_user")
        return list(self.environment.endpoints.select_related(*related).order_by("slug"))

    def test_users(self, auth: CustomerAuth) -> list[TestUser]:
        """Active test users of ``auth``, in label order."""
        return list(auth.test_users.filter(is_active=True).order_by("label"))

    def login(self, user: TestUser, attempt: int = 0) -> Login:
        """The ``attempt``-th fresh login of ``user`` in this run (fetched on first use)."""
        key = (user.pk, attempt)
        if key not in self._logins:
            self._logins[key] = self.fetch_login(user)
        return self._logins[key]

    def fetch_login(self, user: TestUser) -> Login:
        """Another fresh login, not shared (for timing)."""
        login = Login(user=user)
        try:
            login.fetched = user_session_fetch(test_user=user)
        except FetchFailure as error:
            login.error = error
        else:
            self.remember(login.fetched.value)
            login.identity = identity_of(auth=user.customer_auth, token=login.fetched.value)
        return login

    def bearer(self, client: OAuthClient) -> Outcome:
        """A fresh access token of ``client`` for this run (fetched on first use)."""
        if client.pk not in self._bearers:
            self._bearers[client.pk] = self.fetch_bearer(client)
        return self._bearers[client.pk]

    def fetch_bearer(self, client: OAuthClient) -> Outcome:
        """Another fresh access token, not shared (for timing or a wrong-secret probe)."""
        outcome = Outcome()
        try:
            outcome.fetched = oauth_token_fetch(oauth_client=client)
        except FetchFailure as error:
            outcome.error = error
        else:
            self.remember(outcome.fetched.value)
        return outcome


def readiness_context(*, environment: Environment) -> ReadinessContext:
    """A context that already knows every stored secret of the environment."""
    context = ReadinessContext(environment=environment)
    context.remember(*_stored_secrets(environment))
    return context


def _stored_secrets(environment: Environment) -> list[str]:
    secrets: list[Any] = [client.client_secret for client in environment.oauth_clients.all()]
    secrets += [key.value for key in environment.api_keys.all()]
    for auth in environment.customer_auths.prefetch_related("test_users"):
        secrets.append(auth.jwt_verification_key)
        secrets += [user.password for user in auth.test_users.all()]
    return [value for secret in secrets if secret is not None and (value := _revealed(secret))]


def _revealed(secret: Any) -> str:
    # A secret the current keys cannot decrypt cannot be sent either: nothing to hide.
    try:
        return str(secret.reveal())
    except SecretDecryptionError:
        return ""
