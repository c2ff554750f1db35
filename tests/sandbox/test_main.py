"""``python -m sandbox`` serves from the environment and keeps secrets out of its log."""

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.sandbox.helpers import TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("carol-password", "client-secret-xyz", "key-xyz")


@pytest.fixture
def served() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    environ = {
        **os.environ,
        "SANDBOX_PORT": "0",
        "SANDBOX_USERS": "carol:carol-password",
        "SANDBOX_CLIENT_SECRET": "client-secret-xyz",
        "SANDBOX_API_KEY": "key-xyz",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox"],
        cwd=ROOT,
        env=environ,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    first_line = process.stderr.readline()
    match = re.search(r"http://[\d.]+:\d+", first_line)
    assert match, first_line
    yield match.group(0), process
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.slow
def test_it_serves_and_logs_one_line_per_request_without_secrets(
    served: tuple[str, subprocess.Popen[str]],
) -> None:
    url, process = served
    requests.post(
        f"{url}/auth/customer_authenticate?password=carol-password",
        data={"username": "carol", "password": "carol-password"},
        timeout=TIMEOUT,
    )
    token = requests.post(
        f"{url}/oauth/access_token?grant_type=client_credentials&client_secret=client-secret-xyz",
        data={"client_id": "demo-client", "client_secret": "client-secret-xyz"},
        timeout=TIMEOUT,
    ).json()["access_token"]
    requests.post(
        f"{url}/account/getprofile",
        headers={"Authorization": f"Bearer {token}", "api-key": "key-xyz"},
        timeout=TIMEOUT,
    )

    # Each request logs one line once answered; read them before stopping the server.
    assert process.stderr is not None
    watchdog = threading.Timer(10, process.kill)
    watchdog.start()
    request_lines = [process.stderr.readline() for _ in range(3)]
    watchdog.cancel()
    process.terminate()
    _, rest = process.communicate(timeout=10)
    log = "".join(request_lines) + rest

    assert all(" -> " in line for line in request_lines)
    assert "POST /account/getprofile -> 401" in request_lines[2]
    for secret in (*SECRETS, token):
        assert secret not in log
    assert process.returncode == 0


@pytest.mark.slow
def test_it_refuses_to_start_with_a_bad_configuration() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox"],
        cwd=ROOT,
        env={**os.environ, "SANDBOX_FAULTS": '{"explode": true}'},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "explode" in result.stderr
