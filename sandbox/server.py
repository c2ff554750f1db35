"""The sandbox's HTTP server: a threading HTTP/1.1 server with keep-alive.

``python -m sandbox`` runs :func:`serve` in the foreground; tests and demos call
:func:`start_sandbox`, which serves from a background thread and hands back a
:class:`RunningSandbox` to steer it.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import struct
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.config import SandboxConfig
from sandbox.messages import Request, Response, error_response
from sandbox.routes import dispatch
from sandbox.state import SandboxState

logger = logging.getLogger("sandbox")

MAX_REQUEST_BODY_BYTES = 1024 * 1024


class SandboxHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that carries the sandbox state and can drop open connections."""

    daemon_threads = True
    # Fifty callers connecting at once must not overflow the listen backlog.
    request_queue_size = 128

    def __init__(self, config: SandboxConfig) -> None:
        self.state = SandboxState(config)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in config.host:
            self.address_family = socket.AF_INET6
        super().__init__((config.host, config.port), SandboxHandler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host, which can stall."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        """Remember or forget an open client connection, so :meth:`stop` can close it."""
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def stop(self) -> None:
        """Stop accepting, end slow answers, and hang up on keep-alive clients."""
        self.state.stopping.set()
        self.shutdown()
        self.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client left already


class SandboxHandler(BaseHTTPRequestHandler):
    """Turns each HTTP request into a :class:`Request` and writes back the :class:`Response`."""

    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse connections
    server_version = "SandboxCustomerAPI/1.0"
    timeout = 60  # idle keep-alive connections and stalled readers are let go after this
    # Headers and body go out in separate writes; with Nagle's algorithm the body
    # would wait for the client's delayed ACK (about 40 ms on Linux) on every answer.
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def setup(self) -> None:
        """Track the connection for the server's :meth:`SandboxHTTPServer.stop`."""
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        """Untrack the connection."""
        self.server.track(self.connection, open_=False)
        super().finish()

    def do_GET(self) -> None:
        """Answer a GET."""
        self.serve()

    def do_POST(self) -> None:
        """Answer a POST."""
        self.serve()

    def do_PUT(self) -> None:
        """Answer a PUT (always 404 or 405)."""
        self.serve()

    def do_DELETE(self) -> None:
        """Answer a DELETE (always 404 or 405)."""
        self.serve()

    def serve(self) -> None:
        """Read the request, dispatch it, write the answer and log one line."""
        started = time.monotonic()
        request, refusal = self.read_request()
        response = refusal or self.answer(request)
        self.write(response)
        elapsed_ms = (time.monotonic() - started) * 1000
        # The path only: query strings and bodies may carry secrets.
        status = "aborted" if response.abort else response.status
        logger.info("%s %s -> %s in %.0f ms", self.command, request.path, status, elapsed_ms)

    def answer(self, request: Request) -> Response:
        """Run the route; a bug becomes a 500 rather than a dropped connection."""
        try:
            return dispatch(self.server.state, request)
        except Exception:
            logger.exception("sandbox route %s %s failed", request.method, request.path)
            return error_response(500, "server_error", "the sandbox failed; see its log")

    def read_request(self) -> tuple[Request, Response | None]:
        """Build the :class:`Request`; the second value is a refusal when the body is unusable."""
        parts = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        query = parse_qs(parts.query)
        length = content_length(headers)
        if isinstance(length, Response):
            self.close_connection = True  # the unread body would corrupt the next request
            return Request(self.command, parts.path, query, headers), length
        return Request(self.command, parts.path, query, headers, self.rfile.read(length)), None

    def write(self, response: Response) -> None:
        """Send ``response``: whole, streamed, chunked, or not at all when it aborts."""
        if response.abort:
            self.abort_connection()
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        chunked = response.stream is not None and "Content-Length" not in response.headers
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif response.stream is None:
            self.send_header("Content-Length", str(len(response.body)))
        try:
            self.end_headers()
            if response.stream is None:
                self.wfile.write(response.body)
            else:
                self.write_stream(response.stream, chunked=chunked)
        except OSError:
            self.close_connection = True  # the client hung up; nothing more to say

    def write_stream(self, stream: Iterator[bytes], *, chunked: bool) -> None:
        """Write a streamed body piece by piece until it ends, the client leaves or we stop."""
        for piece in stream:
            if self.server.state.stopping.is_set():
                self.close_connection = True
                return
            if not piece:
                continue
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if self.server.state.stopping.is_set():
            # A drip cut short by stop() sent less than its Content-Length promised.
            self.close_connection = True
        elif chunked:
            self.wfile.write(b"0\r\n\r\n")

    def abort_connection(self) -> None:
        """Close the socket at once with a TCP reset, as a crashing upstream would."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The buffered reader holds a reference; drop it so close() really closes (and resets).
        self.rfile.close()
        self.connection.close()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silence the default access log; :meth:`serve` logs a line without the query."""

    def log_error(self, format: str, *args: Any) -> None:
        """Log protocol errors by status only: the raw request line may hold secrets."""
        if args and isinstance(args[0], int):
            logger.warning("refused a malformed request with status %d", args[0])
        else:
            logger.debug("connection from %s ended early", self.client_address[0])


def content_length(headers: Mapping[str, str]) -> int | Response:
    """The request body's length, or the refusal when it cannot be read safely."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return error_response(411, "length_required", "send the body with a Content-Length")
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        return error_response(400, "invalid_request", "the Content-Length header is invalid")
    if not 0 <= length <= MAX_REQUEST_BODY_BYTES:
        description = f"the body must be at most {MAX_REQUEST_BODY_BYTES} bytes"
        return error_response(413, "request_too_large", description)
    return length


class RunningSandbox:
    """A sandbox serving from a background thread; see :func:`start_sandbox`."""

    def __init__(self, server: SandboxHTTPServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def host(self) -> str:
        """The address it listens on."""
        return self._server.server_name

    @property
    def port(self) -> int:
        """The port it listens on (the real one when started with port 0)."""
        return self._server.server_port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def config(self) -> SandboxConfig:
        """The configuration it started with."""
        return self._server.state.config

    def set_faults(self, **knobs: object) -> dict[str, object]:
        """Merge fault knobs (``KnobError`` on a bad one) and return them all."""
        return self._server.state.set_faults(knobs).as_dict()

    def reset(self) -> None:
        """Start-up knobs, zero counters, no issued access tokens."""
        self._server.state.reset()

    def stats(self) -> dict[str, int]:
        """Request counters per contract route."""
        return self._server.state.stats()

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        self._server.stop()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sandbox(
    host: str = "127.0.0.1", port: int = 0, **config_overrides: Any
) -> RunningSandbox:
    """Serve a sandbox in a background thread; port 0 picks a free port.

    The environment is not read: the defaults of :class:`SandboxConfig` apply, changed by
    ``config_overrides`` (e.g. ``auth_mode="cookie"``, ``users={"carol": "pw"}``).
    """
    server = SandboxHTTPServer(SandboxConfig(host=host, port=port, **config_overrides))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="sandbox", daemon=True
    )
    thread.start()
    return RunningSandbox(server, thread)


def serve(config: SandboxConfig) -> None:
    """Serve in the foreground until interrupted."""
    server = SandboxHTTPServer(config)
    logger.info(
        "sandbox customer API on http://%s:%s (auth mode %s, client %s, users %s)",
        server.server_name,
        server.server_port,
        config.auth_mode,
        config.client_id,
        ", ".join(config.users),
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopping")
    finally:
        server.server_close()
