"""`python -m portal.devrun` (what `make run` starts) brings the whole stack up and down.

These tests start real processes on free ports with a fresh PORTAL_VAR_DIR: the
embedded defaults, exactly as on a new machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import process_stop

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
CHILDREN = {"sandbox", "portal", "worker", "beat"}
# Only what a shell on a fresh machine has: no DATABASE_URL, keys or test settings.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


@dataclass
class DevRun:
    process: subprocess.Popen[bytes]
    log_path: Path
    portal_port: int
    sandbox_port: int

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def child_pids(self) -> dict[str, int]:
        found = re.findall(r"started (\w+) \(pid (\d+)\)", self.log)
        return {name: int(pid) for name, pid in found}

    def admin_login_status(self) -> int | None:
        return http_status(f"http://127.0.0.1:{self.portal_port}/admin/login/")

    def sandbox_token_status(self) -> int | None:
        form = {"client_id": "demo-client", "client_secret": "demo-client-secret"}
        url = (
            f"http://127.0.0.1:{self.sandbox_port}/oauth/access_token?grant_type=client_credentials"
        )
        return http_status(url, data=urllib.parse.urlencode(form).encode())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(url: str, data: bytes | None = None) -> int | None:
    try:
        with urllib.request.urlopen(url, data=data, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_devrun(var_dir: Path, portal_port: int, sandbox_port: int) -> DevRun:
    environ = {name: os.environ[name] for name in INHERITED if name in os.environ}
    environ.update(
        PORTAL_VAR_DIR=str(var_dir),
        PORTAL_PORT=str(portal_port),
        SANDBOX_HOST="127.0.0.1",
        SANDBOX_PORT=str(sandbox_port),
    )
    log_path = var_dir.parent / "devrun.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.devrun"],
            cwd=BASE_DIR,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return DevRun(process, log_path, portal_port, sandbox_port)


def force_stop(run: DevRun) -> None:
    """Teardown, failure or not: leave no process behind.

    devrun stops its children on SIGTERM; a SIGKILL comes only after the grace, and
    then also to each child's own process group, as devrun can no longer do it.
    """
    process_stop(run.process, grace_s=STOP_TIMEOUT_S)
    for pid in run.child_pids().values():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def devrun(tmp_path: Path) -> Iterator[DevRun]:
    run = start_devrun(tmp_path / "var", free_port(), free_port())
    yield run
    force_stop(run)


@pytest.fixture
def ready_devrun(devrun: DevRun) -> DevRun:
    def answering() -> bool:
        assert devrun.process.poll() is None, f"devrun exited early:\n{devrun.log}"
        return (
            "Press Ctrl-C to stop." in devrun.log
            and devrun.admin_login_status() == 200
            and devrun.sandbox_token_status() == 200
        )

    assert wait_until(answering, READY_TIMEOUT_S), f"not ready in time:\n{devrun.log}"
    return devrun


def stopped(run: DevRun) -> int:
    try:
        return run.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"devrun did not stop within {STOP_TIMEOUT_S}s:\n{run.log}")


def test_it_serves_the_admin_login_and_the_sandbox(ready_devrun: DevRun) -> None:
    assert ready_devrun.child_pids().keys() == CHILDREN
    assert "Admin login:" in ready_devrun.log
    assert f"http://127.0.0.1:{ready_devrun.portal_port}/admin/" in ready_devrun.log


def test_ctrl_c_stops_every_child_and_exits_cleanly(ready_devrun: DevRun) -> None:
    pids = ready_devrun.child_pids()

    ready_devrun.process.send_signal(signal.SIGINT)

    assert stopped(ready_devrun) == 0, ready_devrun.log
    assert [name for name, pid in pids.items() if is_running(pid)] == []


def test_sigterm_stops_every_child(ready_devrun: DevRun) -> None:
    pids = ready_devrun.child_pids()

    ready_devrun.process.terminate()

    assert stopped(ready_devrun) == 0, ready_devrun.log
    assert [name for name, pid in pids.items() if is_running(pid)] == []


def test_when_a_child_dies_it_stops_the_others_and_fails(ready_devrun: DevRun) -> None:
    pids = ready_devrun.child_pids()

    os.kill(pids["sandbox"], signal.SIGKILL)

    assert stopped(ready_devrun) != 0
    assert "sandbox exited" in ready_devrun.log
    assert [name for name, pid in pids.items() if is_running(pid)] == []


def test_it_refuses_to_start_when_the_portal_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = start_devrun(tmp_path / "var", taken.getsockname()[1], free_port())
        try:
            returncode = stopped(run)
        finally:
            force_stop(run)

    assert returncode != 0
    assert "already in use" in run.log
    assert "PORTAL_PORT" in run.log
    assert not (tmp_path / "var").exists()
