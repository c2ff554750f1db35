"""A failing run still ends promptly with its summary, whatever its tests left running.

Each case runs pytest on a small test module in a child process, as CI runs the suite,
and asserts that it exits in time, says what was left running, and leaves nothing behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.helpers import process_stop, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
# Startup under load, two 1 s graces and a 2 s per-test timeout fit well inside this.
RUN_CEILING_S = 90.0

CONFTEST = """
from tests.conftest import *  # noqa: F403
from tests.conftest import _nothing_left_running  # noqa: F401
"""

LEAVES_EVERYTHING_RUNNING = """
import multiprocessing, os, subprocess, sys, threading, time
from pathlib import Path

def _forever():
    time.sleep(3600)

def test_fails_after_starting_a_process_a_subprocess_and_a_thread():
    child = multiprocessing.get_context("fork").Process(target=_forever)
    child.start()
    popen = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    threading.Thread(target=threading.Event().wait, name="never-set").start()
    Path("pids").write_text(f"{child.pid} {popen.pid}")
    assert False, "the failure CI saw"

def test_the_next_test_still_runs():
    assert True
"""

HANGS = """
import threading
import pytest

@pytest.mark.timeout(2)
def test_hangs_on_a_wait_without_a_timeout():
    threading.Event().wait()

def test_the_next_test_still_runs():
    assert True
"""


def run_pytest(tmp_path: Path, module: str) -> tuple[subprocess.CompletedProcess[str], float]:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_module.py").write_text(textwrap.dedent(module))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PORTAL_TEST_LEFTOVER_GRACE_S": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "test_module.py"]
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # stopped as a group: with whatever it left running
    )
    try:
        output, _ = process.communicate(timeout=RUN_CEILING_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"pytest did not exit within {RUN_CEILING_S:.0f} s")
    finally:
        process_stop(process, group=True)
    result = subprocess.CompletedProcess(command, process.returncode, output)
    return result, time.monotonic() - started


def is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds children in /proc")
def test_a_run_whose_failed_test_left_processes_and_a_thread_running_still_exits(
    tmp_path: Path,
) -> None:
    result, took = run_pytest(tmp_path, LEAVES_EVERYTHING_RUNNING)

    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 passed, 1 error" in result.stdout
    assert "the test left running" in result.stdout
    assert "never-set" in result.stdout and "time.sleep(3600)" in result.stdout
    assert took < RUN_CEILING_S
    pids = [int(pid) for pid in (tmp_path / "pids").read_text().split()]
    wait_until(lambda: not any(map(is_running, pids)), what="the leftover processes to be gone")


def test_a_hung_test_fails_with_a_traceback_and_the_run_goes_on(tmp_path: Path) -> None:
    result, _ = run_pytest(tmp_path, HANGS)

    assert result.returncode == 1, result.stdout
    assert "Timeout (>2.0s)" in result.stdout
    assert "threading.Event().wait()" in result.stdout
    assert "1 failed, 1 passed" in result.stdout
