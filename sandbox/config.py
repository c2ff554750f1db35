"""Configuration of the sandbox customer API, read from the environment.

Every variable has a development default, so ``python -m sandbox`` runs with none set:

- ``SANDBOX_HOST`` = ``127.0.0.1``: address to listen on.
- ``SANDBOX_PORT`` = ``8001``: port to listen on (``0`` picks a free port).
- ``SANDBOX_CLIENT_ID`` = ``demo-client``: OAuth client id accepted by ``/oauth/access_token``.
- ``SANDBOX_CLIENT_SECRET`` = ``demo-client-secret``: the matching client secret.
- ``SANDBOX_API_KEY`` = ``demo-api-key``: value expected in the ``api-key`` header.
- ``SANDBOX_USERS`` = ``alice:alice-password,bob:bob-password``: test users, ``name:password``
  pairs separated by commas.
- ``SANDBOX_SIGNING_KEY`` = a fixed, public development value: HS256 key for the JWTs and for
  the opaque customer identifiers.
- ``SANDBOX_TOKEN_LIFETIME`` = ``28799``: seconds that access tokens and JWTs live.
- ``SANDBOX_AUTH_MODE`` = ``token``: ``token`` (JWT in the body) or ``cookie`` (session cookie).
- ``SANDBOX_FAULTS`` = empty: a JSON object of fault knobs to apply at start, e.g.
  ``{"latency_ms": 200}``; ``/_sandbox/reset`` returns to these.

Each variable can also be given as ``NAME_FILE`` (a path whose content is the value), so
secrets can come from mounted files. Invalid values fail at start with a
:class:`ConfigError` that names the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

AUTH_MODES = ("token", "cookie")

# Public on purpose: the sandbox only ever signs demo tokens. 32+ bytes keeps PyJWT from
# warning about a short HMAC key.
DEV_SIGNING_KEY = "sandbox-dev-signing-key-not-a-secret-0123456789"


class ConfigError(ValueError):
    """A sandbox setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class SandboxConfig:
    """Everything the sandbox needs to start; see the module docstring for the defaults."""

    host: str = "127.0.0.1"
    port: int = 8001
    client_id: str = "demo-client"
    client_secret: str = "demo-client-secret"
    api_key: str = "demo-api-key"
    users: Mapping[str, str] = field(
        default_factory=lambda: {"alice": "alice-password", "bob": "bob-password"}
    )
    signing_key: str = DEV_SIGNING_KEY
    token_lifetime: int = 28799
    auth_mode: str = "token"
    # Fault knobs applied at start and restored by /_sandbox/reset.
    faults: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.auth_mode not in AUTH_MODES:
            raise ConfigError(
                f"SANDBOX_AUTH_MODE must be one of {AUTH_MODES}, not {self.auth_mode!r}"
            )
        if self.token_lifetime < 0:
            raise ConfigError("SANDBOX_TOKEN_LIFETIME must be zero or more seconds")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"SANDBOX_PORT must be between 0 and 65535, not {self.port}")
        if not self.users:
            raise ConfigError("SANDBOX_USERS must name at least one test user")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxConfig:
        """Build the configuration from ``environ`` (default: ``os.environ``)."""
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            host=env_str(env, "SANDBOX_HOST", defaults.host),
            port=env_int(env, "SANDBOX_PORT", defaults.port),
            client_id=env_str(env, "SANDBOX_CLIENT_ID", defaults.client_id),
            client_secret=env_str(env, "SANDBOX_CLIENT_SECRET", defaults.client_secret),
            api_key=env_str(env, "SANDBOX_API_KEY", defaults.api_key),
            users=parse_users(env_str(env, "SANDBOX_USERS", "")) or defaults.users,
            signing_key=env_str(env, "SANDBOX_SIGNING_KEY", defaults.signing_key),
            token_lifetime=env_int(env, "SANDBOX_TOKEN_LIFETIME", defaults.token_lifetime),
            auth_mode=env_str(env, "SANDBOX_AUTH_MODE", defaults.auth_mode),
            faults=parse_faults(env_str(env, "SANDBOX_FAULTS", "")),
        )


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    """Return ``name`` from the environment, or the content of ``name_FILE``, or ``default``."""
    path = env.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as error:
            raise ConfigError(f"{name}_FILE={path!r} cannot be read: {error.strerror}") from error
    value = env.get(name, "").strip()
    return value or default


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    """Return ``name`` as an integer, failing with a message that names the variable."""
    raw = env_str(env, name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None


def parse_users(raw: str) -> dict[str, str]:
    """Parse ``"alice:pw1,bob:pw2"`` into ``{"alice": "pw1", "bob": "pw2"}``."""
    users: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in raw.split(","))):
        name, separator, password = pair.partition(":")
        if not separator or not name or not password:
            # Never echo the pair: it holds a password.
            raise ConfigError("SANDBOX_USERS entries must read name:password, comma separated")
        users[name] = password
    return users


def parse_faults(raw: str) -> dict[str, object]:
    """Parse the ``SANDBOX_FAULTS`` JSON object; knob names are checked later by ``Faults``."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(f"SANDBOX_FAULTS is not valid JSON: {error.msg}") from None
    if not isinstance(value, dict):
        raise ConfigError("SANDBOX_FAULTS must be a JSON object of knob names to values")
    return value
