"""docker-compose.yml is a valid compose file that runs the whole portal.

Validation is offline: check-jsonschema ships the compose spec's schema.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

BASE_DIR = Path(__file__).resolve().parents[2]
COMPOSE_PATH = BASE_DIR / "docker-compose.yml"


CHECK_JSONSCHEMA = [sys.executable, "-m", "check_jsonschema", "--builtin-schema"]


def check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHECK_JSONSCHEMA, "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return YAML(typ="safe").load(COMPOSE_PATH.read_text())["services"]


def command_of(service: dict[str, Any]) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def test_compose_file_validates_against_the_compose_spec() -> None:
    result = check_compose_schema(COMPOSE_PATH)

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_an_invalid_compose_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  web:\n    image: x\n    ports: 8000\n    restart: sometimes\n")

    assert check_compose_schema(broken).returncode != 0


def test_it_runs_postgres_redis_web_worker_and_beat(services: dict[str, Any]) -> None:
    assert {"postgres", "redis", "web", "worker", "beat"} <= services.keys()
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_web_migrates_and_serves_with_gunicorn(services: dict[str, Any]) -> None:
    command = command_of(services["web"])

    assert "gunicorn portal.wsgi" in command
    assert command.index("migrate") < command.index("gunicorn")


def test_worker_and_beat_run_celery(services: dict[str, Any]) -> None:
    assert "celery -A portal worker" in command_of(services["worker"])
    assert "celery -A portal beat" in command_of(services["beat"])


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_portal_services_use_postgres_and_redis_from_the_stack(
    services: dict[str, Any], name: str
) -> None:
    service = services[name]

    assert service["environment"]["DATABASE_URL"].startswith("postgres://")
    assert "@postgres:5432/" in service["environment"]["DATABASE_URL"]
    assert service["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:6379")
    assert service["env_file"] == ".env"


@pytest.mark.parametrize("name", ["postgres", "redis", "web"])
def test_services_others_wait_for_have_healthchecks(services: dict[str, Any], name: str) -> None:
    assert services[name]["healthcheck"]["test"]


def test_portal_services_start_after_their_dependencies_are_healthy(
    services: dict[str, Any],
) -> None:
    conditions = {
        (name, dependency): spec["condition"]
        for name in ("web", "worker", "beat")
        for dependency, spec in services[name]["depends_on"].items()
    }

    assert conditions[("web", "postgres")] == "service_healthy"
    assert conditions[("web", "redis")] == "service_healthy"
    assert set(conditions.values()) == {"service_healthy"}
