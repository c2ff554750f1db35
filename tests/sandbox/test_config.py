"""The sandbox configuration: environment, defaults and fast failure."""

from pathlib import Path

import pytest

from sandbox.config import ConfigError, SandboxConfig
from sandbox.faults import Faults, KnobError


def test_it_has_working_defaults_without_any_environment() -> None:
    config = SandboxConfig.from_env({})

    assert (config.host, config.port) == ("127.0.0.1", 8001)
    assert (config.client_id, config.client_secret) == ("demo-client", "demo-client-secret")
    assert config.api_key == "demo-api-key"
    assert dict(config.users) == {"alice": "alice-password", "bob": "bob-password"}
    assert config.token_lifetime == 28799
    assert config.auth_mode == "token"
    assert len(config.signing_key) >= 32


def test_it_reads_every_variable_from_the_environment() -> None:
    config = SandboxConfig.from_env(
        {
            "SANDBOX_HOST": "0.0.0.0",
            "SANDBOX_PORT": "9000",
            "SANDBOX_USERS": "carol:c-pw, dave:d:pw",
            "SANDBOX_TOKEN_LIFETIME": "60",
            "SANDBOX_AUTH_MODE": "cookie",
            "SANDBOX_FAULTS": '{"latency_ms": 100}',
        }
    )

    assert (config.host, config.port, config.token_lifetime) == ("0.0.0.0", 9000, 60)
    assert dict(config.users) == {"carol": "c-pw", "dave": "d:pw"}
    faults = Faults.from_config(config)
    assert (faults.auth_mode, faults.token_lifetime_s, faults.latency_ms) == ("cookie", 60, 100)


def test_it_reads_secrets_from_files(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")

    config = SandboxConfig.from_env({"SANDBOX_CLIENT_SECRET_FILE": str(secret_file)})

    assert config.client_secret == "from-a-file"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SANDBOX_PORT": "eighty"}, "SANDBOX_PORT"),
        ({"SANDBOX_AUTH_MODE": "magic"}, "SANDBOX_AUTH_MODE"),
        ({"SANDBOX_USERS": "alice"}, "SANDBOX_USERS"),
        ({"SANDBOX_FAULTS": "{not json"}, "SANDBOX_FAULTS"),
        ({"SANDBOX_TOKEN_LIFETIME": "-5"}, "SANDBOX_TOKEN_LIFETIME"),
    ],
)
def test_it_fails_fast_naming_the_bad_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        SandboxConfig.from_env(environ)


def test_it_never_echoes_a_malformed_user_entry() -> None:
    with pytest.raises(ConfigError) as raised:
        SandboxConfig.from_env({"SANDBOX_USERS": "alice-secret-password"})

    assert "alice-secret-password" not in str(raised.value)


def test_unknown_start_up_knobs_are_refused() -> None:
    config = SandboxConfig.from_env({"SANDBOX_FAULTS": '{"explode": true}'})

    with pytest.raises(KnobError, match="explode"):
        Faults.from_config(config)
