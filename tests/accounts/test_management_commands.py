"""`manage.py` commands on a fresh clone: the embedded defaults, as `make run` uses them.

Each case runs manage.py in a new interpreter whose environment holds only PATH and a
temporary PORTAL_VAR_DIR (plus what the case adds): no DEBUG, DATABASE_URL or keys.
Only manage.py with no deployment variable at all gets the embedded defaults; the
settings themselves (as gunicorn and Celery import them) are production unless DEBUG=true.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parents[2]
TEST_FERNET_KEY = "u7kn9Z_LNWvmMu0HKK3S4N2NK8bt29Q4dMigvt8_V1s="
CREATE_USER = (
    "from django.contrib.auth import get_user_model; "
    "get_user_model().objects.create_user('ops', password='unused-password-0')"
)


EMBEDDED_NOTICE = "using the embedded defaults"


def manage(var_dir: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return python(var_dir, "manage.py", *args, **variables)


def python(var_dir: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": os.environ.get("PATH", ""), "PORTAL_VAR_DIR": str(var_dir), **variables}
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_create_api_token_prints_a_token_on_the_embedded_defaults(tmp_path: Path) -> None:
    ok(manage(tmp_path, "migrate", "--noinput"))
    ok(manage(tmp_path, "shell", "-v", "0", "-c", CREATE_USER))

    created = manage(tmp_path, "create_api_token", "ops", "--scope", "read", "--name", "cli")

    token = ok(created).strip()
    assert EMBEDDED_NOTICE in created.stderr
    assert re.fullmatch(r"\S{20,}", token), token
    prefix = re.search(r"API token (\S+) for ops \(read", created.stderr)
    assert prefix is not None, created.stderr
    assert token.startswith(f"pt_{prefix.group(1)}_")
    # The command used the embedded SQLite and keys in the var dir, as `make run` does.
    assert {"portal.sqlite3", "secret_key", "encryption_key"} <= {
        p.name for p in tmp_path.iterdir()
    }
    revoked = manage(tmp_path, "revoke_api_token", prefix.group(1))
    assert revoked.returncode == 0, revoked.stderr


def test_an_unknown_user_is_a_clear_error_not_a_settings_failure(tmp_path: Path) -> None:
    ok(manage(tmp_path, "migrate", "--noinput"))

    result = manage(tmp_path, "create_api_token", "nobody", "--scope", "read")

    assert result.returncode != 0
    assert "No user named 'nobody'" in result.stderr
    assert "ImproperlyConfigured" not in result.stderr


def test_production_settings_without_keys_still_fail_fast_and_say_how_to_run_locally(
    tmp_path: Path,
) -> None:
    result = manage(
        tmp_path,
        "create_api_token",
        "ops",
        "--scope",
        "read",
        DATABASE_URL="postgres://portal:portal@127.0.0.1:1/portal",
    )

    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr
    assert "set DEBUG=true" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_an_explicit_debug_false_is_production_even_with_nothing_else_set(tmp_path: Path) -> None:
    result = manage(tmp_path, "check", DEBUG="false", SECRET_KEY="s" * 50)

    assert result.returncode != 0
    assert "PORTAL_ENCRYPTION_KEYS is required" in result.stderr
    assert not (tmp_path / "encryption_key").exists()


def test_production_keys_alone_turn_the_embedded_defaults_off(tmp_path: Path) -> None:
    result = manage(
        tmp_path,
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings; print(settings.DEBUG, settings.ENCRYPTION_KEYS)",
        SECRET_KEY="s" * 50,
        PORTAL_ENCRYPTION_KEYS=TEST_FERNET_KEY,
    )

    assert ok(result).split() == ["False", f"['{TEST_FERNET_KEY}']"]
    assert not (tmp_path / "encryption_key").exists()


@pytest.mark.parametrize(
    "variable",
    [
        {"ALLOWED_HOSTS": "portal.example.com"},
        {"CELERY_BROKER_URL": "redis://:broker-password@127.0.0.1:1/0"},
        {"CACHE_URL": ""},
    ],
    ids=["allowed-hosts", "celery-broker-url", "cache-url-empty"],
)
def test_any_deployment_variable_alone_turns_the_embedded_defaults_off(
    tmp_path: Path, variable: dict[str, str]
) -> None:
    result = manage(tmp_path, "check", **variable)

    assert result.returncode != 0
    assert EMBEDDED_NOTICE not in result.stderr
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_a_deployment_variable_given_as_a_file_turns_the_embedded_defaults_off(
    tmp_path: Path,
) -> None:
    url_file = tmp_path / "database_url"
    url_file.write_text("postgres://portal:portal@127.0.0.1:1/portal")

    result = manage(tmp_path, "check", DATABASE_URL_FILE=str(url_file))

    assert result.returncode != 0
    assert EMBEDDED_NOTICE not in result.stderr
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    "program",
    [
        "import portal.wsgi",
        "import portal.celery; from django.conf import settings; settings.DEBUG",
    ],
    ids=["wsgi", "celery"],
)
def test_the_settings_imported_with_nothing_set_are_production_not_debug(
    tmp_path: Path, program: str
) -> None:
    result = python(tmp_path, "-c", program, PYTHONPATH=str(BASE_DIR))

    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr
    assert not (tmp_path / "secret_key").exists()
