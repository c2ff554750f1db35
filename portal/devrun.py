"""Run the whole portal locally on its embedded defaults: ``python -m portal.devrun``.

Migrates, seeds the demo data, then runs the sandbox customer API, the portal, a
Celery worker and Celery beat as child processes, each output line prefixed with
the child's name. Ctrl-C, SIGTERM or SIGHUP stops them all; if one dies, the others are
stopped too and the exit status is non-zero.

Environment: PORTAL_PORT (default 8000), SANDBOX_HOST and SANDBOX_PORT (default
127.0.0.1:8001), PORTAL_VAR_DIR (default var/); DEBUG defaults to true here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

BASE_DIR = Path(__file__).resolve().parent.parent
PORTAL_HOST = "127.0.0.1"
READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.25
ADMIN_LOGIN_MARKER = "Admin login:"

_output_lock = threading.Lock()


class StartupError(Exception):
    """The stack could not start; the message says what to fix."""


class StopRequest:
    """Set by the signal handlers. A plain attribute on purpose: threading.Event takes
    a lock, and a handler that interrupts the main thread while it holds that lock
    would deadlock."""

    def __init__(self) -> None:
        self.requested = False


@dataclass(frozen=True)
class Config:
    portal_port: int
    sandbox_host: str
    sandbox_port: int
    var_dir: Path

    @property
    def portal_url(self) -> str:
        return f"http://{PORTAL_HOST}:{self.portal_port}"

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.sandbox_host}:{self.sandbox_port}"


@dataclass
class Child:
    name: str
    process: subprocess.Popen[str]
    pump: threading.Thread


def emit(name: str, line: str) -> None:
    with _output_lock:
        print(f"{name:<7} | {line}", flush=True)


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise StartupError(f"{name} must be a port number, not {value!r}") from None


def load_config(environ: Mapping[str, str]) -> Config:
    return Config(
        portal_port=_port(environ, "PORTAL_PORT", 8000),
        sandbox_host=environ.get("SANDBOX_HOST", "127.0.0.1"),
        sandbox_port=_port(environ, "SANDBOX_PORT", 8001),
        var_dir=Path(environ.get("PORTAL_VAR_DIR", str(BASE_DIR / "var"))),
    )


def prepare_environment(config: Config) -> None:
    """Fill in what the children need to find each other; explicit settings win."""
    sandbox_address = f"{config.sandbox_host}:{config.sandbox_port}"
    os.environ.setdefault("DEBUG", "true")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    os.environ["SANDBOX_HOST"] = config.sandbox_host
    os.environ["SANDBOX_PORT"] = str(config.sandbox_port)
    os.environ.setdefault("PORTAL_SANDBOX_URL", config.sandbox_url)
    os.environ.setdefault(
        "PORTAL_OUTBOUND_ALLOWLIST", f"{sandbox_address},localhost:{config.sandbox_port}"
    )


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_ports(config: Config) -> None:
    wanted = {
        "PORTAL_PORT": (PORTAL_HOST, config.portal_port),
        "SANDBOX_PORT": (config.sandbox_host, config.sandbox_port),
    }
    for variable, (host, port) in wanted.items():
        if not port_is_free(host, port):
            raise StartupError(
                f"{host}:{port} is already in use: stop whatever listens there "
                f"or choose another port with {variable}=..."
            )


def manage(*args: str) -> list[str]:
    return [sys.executable, str(BASE_DIR / "manage.py"), *args]


def run_setup_step(args: Sequence[str]) -> str:
    """Run a one-off command to completion, echo its output, and return it."""
    result = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        args, cwd=BASE_DIR, capture_output=True, text=True, errors="replace", check=False
    )
    for line in (result.stdout + result.stderr).splitlines():
        emit("setup", line)
    if result.returncode != 0:
        raise StartupError(f"{' '.join(args[1:])} failed with exit status {result.returncode}")
    return result.stdout


def admin_login_line(seed_output: str) -> str:
    for line in seed_output.splitlines():
        if ADMIN_LOGIN_MARKER in line:
            return line.strip()
    return f"{ADMIN_LOGIN_MARKER} see the seed_demo output above"


def child_commands(config: Config) -> dict[str, list[str]]:
    celery = [sys.executable, "-m", "celery", "-A", "portal"]
    return {
        "sandbox": [sys.executable, "-m", "sandbox"],
        "portal": manage("runserver", f"{PORTAL_HOST}:{config.portal_port}", "--noreload"),
        # Threads, not prefork: one process that stops quickly and suits the filesystem
        # broker, which has no broadcast for gossip, mingle or heartbeats.
        "worker": [
            *celery,
            "worker",
            "--loglevel=INFO",
            "--pool=threads",
            "--concurrency=4",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        "beat": [
            *celery,
            "beat",
            "--loglevel=INFO",
            f"--schedule={config.var_dir / 'celerybeat-schedule'}",
        ],
    }


def _pump_lines(name: str, stream: IO[str]) -> None:
    for line in stream:
        emit(name, line.rstrip("\n"))


def start_child(name: str, args: Sequence[str]) -> Child:
    # Each child gets its own process group: a terminal Ctrl-C reaches only us, and
    # stopping a child's group also stops anything that child spawned.
    process = subprocess.Popen(  # noqa: S603 - fixed commands built above
        args,
        cwd=BASE_DIR,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        process_group=0,
    )
    assert process.stdout is not None
    pump = threading.Thread(target=_pump_lines, args=(name, process.stdout), daemon=True)
    pump.start()
    emit("devrun", f"started {name} (pid {process.pid})")
    return Child(name=name, process=process, pump=pump)


def _signal_group(child: Child, signum: int) -> None:
    try:
        os.killpg(child.process.pid, signum)
    except ProcessLookupError:
        pass


def stop_children(children: Sequence[Child], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM every child, wait up to timeout_s, then SIGKILL whatever is left."""
    running = [child for child in children if child.process.poll() is None]
    for child in running:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for child in running:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            emit("devrun", f"{child.name} did not stop within {timeout_s:.0f}s; killing it")
            _signal_group(child, signal.SIGKILL)
            child.process.wait()
    for child in children:
        child.pump.join(timeout=2)


def first_exited(children: Sequence[Child]) -> Child | None:
    return next((child for child in children if child.process.poll() is not None), None)


def wait_until_listening(
    addresses: Sequence[tuple[str, int]], children: Sequence[Child], stop: StopRequest
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = list(addresses)
    while pending:
        if stop.requested or first_exited(children):
            return
        if time.monotonic() > deadline:
            raise StartupError(f"nothing listening on {pending} after {READY_TIMEOUT_S:.0f}s")
        pending = [address for address in pending if not _accepts(address)]
        time.sleep(POLL_INTERVAL_S)


def _accepts(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def print_banner(config: Config, login_line: str) -> None:
    lines = [
        f"Portal:  {config.portal_url}/admin/",
        f"Sandbox: {config.sandbox_url}",
        login_line,
        "Press Ctrl-C to stop.",
    ]
    for line in lines:
        emit("devrun", line)


def supervise(children: Sequence[Child], stop: StopRequest) -> int:
    """Block until asked to stop (0) or until a child exits on its own (1)."""
    while not stop.requested:
        dead = first_exited(children)
        if dead is not None:
            emit("devrun", f"{dead.name} exited with status {dead.process.returncode}")
            return 1
        time.sleep(POLL_INTERVAL_S)
    return 0


def install_stop_handlers(stop: StopRequest) -> None:
    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.requested = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)


def run_stack(config: Config, stop: StopRequest) -> int:
    run_setup_step(manage("migrate", "--noinput"))
    login_line = admin_login_line(run_setup_step(manage("seed_demo")))
    children: list[Child] = []
    try:
        for name, args in child_commands(config).items():
            if not stop.requested:
                children.append(start_child(name, args))
        addresses = [(PORTAL_HOST, config.portal_port), (config.sandbox_host, config.sandbox_port)]
        wait_until_listening(addresses, children, stop)
        if not stop.requested and first_exited(children) is None:
            print_banner(config, login_line)
        status = supervise(children, stop)
    finally:
        emit("devrun", "stopping")
        stop_children(children)
    emit("devrun", "all processes stopped")
    return status


def main() -> int:
    stop = StopRequest()
    install_stop_handlers(stop)
    try:
        config = load_config(os.environ)
        require_free_ports(config)
        prepare_environment(config)
        return run_stack(config, stop)
    except StartupError as error:
        emit("devrun", f"error: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
