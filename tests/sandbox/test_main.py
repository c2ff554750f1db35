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

from tests.helpers import WAIT_CEILING_S, process_stop
from tests.sandbox.helpers import TIMEOUT

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("carol-password", "client-secret-xyz", "key-xyz")


def stderr_lines(process: subprocess.Popen[str], count: int) -> list[str]:
    """The next ``count`` lines of its log; the process is killed if they do not come in time."""
    assert process.stderr is not None
    watchdog = threading.Timer(WAIT_CEILING_S, process.kill)
    watchdog.daemon = True
    watchdog.start()
    try:
        return [process.stderr.readline() for _ in range(count)]
    finally:
        watchdog.cancel()
        watchdog.join()


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
    try:
        first_line = stderr_lines(process, 1)[0]
        match = re.search(r"http://[\d.]+:\d+", first_line)
        assert match, first_line
        yield match.group(0), process
    finally:
        process_stop(process)
        if process.stderr is not None:
            process.stderr.close()


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
    request_lines = stderr_lines(process, 3)
    process.terminate()
    _, rest = process.communicate(timeout=WAIT_CEILING_S)
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
        timeout=WAIT_CEILING_S,
    )

    assert result.returncode == 2
    assert "explode" in result.stderr
