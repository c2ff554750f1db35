"""portal.settings reads everything from the environment and fails fast in production.

Each case imports the settings in a fresh interpreter with a controlled environment,
because the module is evaluated once per process.
"""

from __future__ import annotations

import ast
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
SETTINGS_PATH = BASE_DIR / "portal" / "settings.py"
ENV_EXAMPLE_PATH = BASE_DIR / ".env.example"
ENV_READERS = {"env", "envbool", "envint", "envlist"}
TEST_FERNET_KEY = "u7kn9Z_LNWvmMu0HKK3S4N2NK8bt29Q4dMigvt8_V1s="

DUMP_SETTINGS = """
import json
from portal import settings
print(json.dumps({
    "SECRET_KEY": settings.SECRET_KEY,
    "ENCRYPTION_KEYS": settings.ENCRYPTION_KEYS,
    "DATABASE": {k: str(v) for k, v in settings.DATABASES["default"].items()},
    "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    "BROKER_OPTIONS": settings.CELERY_BROKER_TRANSPORT_OPTIONS,
}))
"""


def import_settings(**variables: str) -> subprocess.CompletedProcess[str]:
    """Import portal.settings in a new interpreter whose environment holds only `variables`."""
    environ = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(BASE_DIR), **variables}
    return subprocess.run(
        [sys.executable, "-c", DUMP_SETTINGS],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def loaded_settings(**variables: str) -> dict:
    result = import_settings(**variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def embedded(var_dir: Path, **variables: str) -> dict:
    return loaded_settings(DEBUG="true", PORTAL_VAR_DIR=str(var_dir), **variables)


def test_production_refuses_to_start_without_secret_key(tmp_path: Path) -> None:
    result = import_settings(DEBUG="false", PORTAL_VAR_DIR=str(tmp_path))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_encryption_keys(tmp_path: Path) -> None:
    result = import_settings(DEBUG="false", SECRET_KEY="s" * 50, PORTAL_VAR_DIR=str(tmp_path))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PORTAL_ENCRYPTION_KEYS" in result.stderr


def test_production_starts_with_both_keys_and_generates_nothing(tmp_path: Path) -> None:
    values = loaded_settings(
        DEBUG="false",
        SECRET_KEY="s" * 50,
        PORTAL_ENCRYPTION_KEYS=TEST_FERNET_KEY,
        PORTAL_VAR_DIR=str(tmp_path),
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )

    assert values["ENCRYPTION_KEYS"] == [TEST_FERNET_KEY]
    assert list(tmp_path.iterdir()) == []


def test_debug_generates_both_keys_once_into_the_var_dir(tmp_path: Path) -> None:
    first = embedded(tmp_path)
    second = embedded(tmp_path)

    for name in ("secret_key", "encryption_key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert first["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()
    assert first["ENCRYPTION_KEYS"] == [(tmp_path / "encryption_key").read_text().strip()]
    assert (second["SECRET_KEY"], second["ENCRYPTION_KEYS"]) == (
        first["SECRET_KEY"],
        first["ENCRYPTION_KEYS"],
    )


def test_database_defaults_to_sqlite_in_the_var_dir(tmp_path: Path) -> None:
    database = embedded(tmp_path)["DATABASE"]

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(database["NAME"]) == tmp_path / "portal.sqlite3"


def test_a_postgres_database_url_switches_the_engine(tmp_path: Path) -> None:
    url = "postgres://portal:secret@db.internal:5432/portal"
    database = embedded(tmp_path, DATABASE_URL=url)["DATABASE"]

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["NAME"], database["USER"]) == (
        "db.internal",
        "portal",
        "portal",
    )


def test_celery_broker_defaults_to_filesystem_folders_in_the_var_dir(tmp_path: Path) -> None:
    values = embedded(tmp_path)
    options = values["BROKER_OPTIONS"]

    assert values["CELERY_BROKER_URL"] == "filesystem://"
    assert options["data_folder_in"] == options["data_folder_out"]
    for folder in (options["data_folder_in"], options["processed_folder"]):
        assert Path(folder).is_dir()
        assert Path(folder).is_relative_to(tmp_path)


def test_a_redis_broker_url_leaves_the_var_dir_alone(tmp_path: Path) -> None:
    values = embedded(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:6379/0")

    assert values["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/0"
    assert "data_folder_in" not in values["BROKER_OPTIONS"]
    assert not (tmp_path / "broker").exists()


def variables_read_by_settings() -> set[str]:
    """Names passed as a literal first argument to env(), envbool(), envint() or envlist()."""
    tree = ast.parse(SETTINGS_PATH.read_text())
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ENV_READERS
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def variables_in_env_example() -> set[str]:
    lines = ENV_EXAMPLE_PATH.read_text().splitlines()
    return {
        line.split("=", 1)[0].strip()
        for line in lines
        if "=" in line and not line.lstrip().startswith("#")
    }


def test_env_example_lists_every_variable_settings_reads() -> None:
    read = variables_read_by_settings()

    assert {"DEBUG", "SECRET_KEY", "PORTAL_ENCRYPTION_KEYS", "DATABASE_URL"} <= read
    assert sorted(read - variables_in_env_example()) == []


def test_env_example_explains_each_variable_in_a_comment_above_it() -> None:
    lines = ENV_EXAMPLE_PATH.read_text().splitlines()
    unexplained = [
        line
        for previous, line in zip(["", *lines], lines, strict=False)
        if "=" in line and not line.startswith("#") and not previous.startswith("#")
    ]

    assert unexplained == []
