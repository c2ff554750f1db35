"""HTTPS settings come from the environment, and .env.example passes `check --deploy`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
TEST_FERNET_KEY = "u7kn9Z_LNWvmMu0HKK3S4N2NK8bt29Q4dMigvt8_V1s="
NAMES = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
]
DUMP = (
    "import json; from django.conf import settings as s; import django; django.setup(); "
    f"print(json.dumps({{n: getattr(s, n) for n in {NAMES!r}}} | "
    "{'PROXY': getattr(s, 'SECURE_PROXY_SSL_HEADER', None)}))"
)


def run(args: list[str], tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_VAR_DIR": str(tmp_path),
        **variables,
    }
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=environ, capture_output=True, text=True
    )


def production(tmp_path: Path, **variables: str) -> dict[str, object]:
    keys = {
        "DEBUG": "false",
        "SECRET_KEY": "k" * 20 + "q" * 30,
        "PORTAL_ENCRYPTION_KEYS": TEST_FERNET_KEY,
    }
    result = run(["-c", DUMP], tmp_path, **keys, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_defaults_to_https_only(tmp_path: Path) -> None:
    values = production(tmp_path)
    assert values == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "PROXY": None,
    }


def test_local_http_turns_the_https_defaults_off_and_each_can_be_set(tmp_path: Path) -> None:
    local = production(tmp_path, PORTAL_LOCAL_HTTP="true")
    assert (local["SECURE_SSL_REDIRECT"], local["SECURE_HSTS_SECONDS"]) == (False, 0)
    assert local["SESSION_COOKIE_SECURE"] is False
    chosen = production(
        tmp_path,
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_PRELOAD="true",
        SECURE_SSL_REDIRECT="false",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    assert (chosen["SECURE_HSTS_SECONDS"], chosen["SECURE_HSTS_PRELOAD"]) == (600, True)
    assert chosen["SECURE_SSL_REDIRECT"] is False
    assert chosen["PROXY"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def env_example() -> dict[str, str]:
    values = {}
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


@pytest.mark.slow
def test_env_example_passes_the_deployment_checks_with_no_warning(tmp_path: Path) -> None:
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **env_example()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
