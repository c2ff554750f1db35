"""Hostile HTTP servers for the outbound edge's tests.

Raw sockets rather than http.server: the point is to misbehave in ways a polite
framework will not (drip bytes, never end, reset mid-body). Each server runs in
threads on a loopback address and records what it saw: accepted connections,
request heads, TLS server names.
"""

from __future__ import annotations

import datetime
import functools
import gzip
import ipaddress
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    """One request as the server read it off the wire."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def header_names(self) -> set[str]:
        return {k.lower() for k, _ in self.headers}

    def query(self, name: str) -> str:
        return parse_qs(urlsplit(self.target).query)[name][0]


Handler = Callable[[socket.socket, Received, "HostileServer"], bool]
"""Answers one request; returns whether to keep the connection open for another."""


class _Listener:
    """A loopback listener running ``serve`` per connection in threads it can stop.

    ``close`` shuts the listener and every live connection down, which wakes any
    thread blocked on them, then joins all threads: a test's finaliser leaves
    nothing running behind it, whatever the handler was doing.
    """

    def __init__(self, host: str, serve: Callable[[socket.socket], None], backlog: int) -> None:
        self.sock = socket.create_server((host, 0), backlog=backlog)
        self.port: int = self.sock.getsockname()[1]
        self._serve = serve
        self._lock = threading.Lock()
        self._live: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._start(self._accept_loop)

    def swap(self, old: socket.socket, new: socket.socket) -> None:
        """``new`` replaces ``old`` as the live socket (TLS wraps detach the plain one)."""
        with self._lock:
            self._live = [new if conn is old else conn for conn in self._live]

    def forget(self, conn: socket.socket) -> None:
        with self._lock:
            self._live = [live for live in self._live if live is not conn]

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            sockets, threads = [self.sock, *self._live], list(self._threads)
        for sock in sockets:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # wakes accept() and recv()
            except OSError:
                pass  # not connected, or already closed by its thread
        self.sock.close()
        end = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, end - time.monotonic()))

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self._live.append(conn)
            self._start(self._serve, conn)


@dataclass
class HostileServer:
    handler: Handler
    host: str = "127.0.0.1"
    tls: ssl.SSLContext | None = None
    accepted: int = 0
    requests: list[Received] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    bytes_sent: int = 0
    open_connections: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        if self.tls is not None:
            self.tls.sni_callback = self._record_sni
        self._listener = _Listener(self.host, self._serve, backlog=64)
        self.port = self._listener.port

    def url(self, path: str = "/", *, host: str | None = None, scheme: str = "http") -> str:
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def wait_until_disconnected(self, timeout: float = 3.0) -> bool:
        end = time.monotonic() + timeout
        while self.open_connections and time.monotonic() < end:
            time.sleep(0.01)
        return self.open_connections == 0

    def _record_sni(self, _sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.server_names.append(name)

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self.accepted += 1
            self.open_connections += 1
        try:
            if self.tls is not None:
                plain, conn = conn, self.tls.wrap_socket(conn, server_side=True)
                self._listener.swap(plain, conn)
            reader = conn.makefile("rb")
            while (request := read_request(reader)) is not None:
                self.requests.append(request)
                if not self.handler(conn, request, self):
                    break
        except (OSError, ssl.SSLError):
            pass  # the client gave up on us: exactly what several tests provoke
        finally:
            with self._lock:
                self.open_connections -= 1
            self._listener.forget(conn)
            conn.close()


def read_request(reader) -> Received | None:
    line = reader.readline(65536)
    if not line.strip():
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers = []
    while (raw := reader.readline(65536)) not in (b"\r\n", b"\n", b""):
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
    return Received(method, target, headers, reader.read(length) if length else b"")


def head(status: int, headers: dict[str, str] | None = None, reason: str = "X") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def respond(conn: socket.socket, status: int, body: bytes = b"", **headers: str) -> bool:
    fields = {
        "Content-Length": str(len(body)),
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    conn.sendall(head(status, fields) + body)
    return True


# --- handlers ---------------------------------------------------------------------


def ok_json(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    return respond(conn, 200, b'{"ok": true}', Content_Type="application/json")


def malformed_json(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    return respond(conn, 200, b'{"access_token": "abc", oops', Content_Type="application/json")


def html_bad_gateway(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    page = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
    return respond(conn, 502, page, Content_Type="text/html")


def rate_limited(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    return respond(conn, 429, b'{"error": "slow down"}', Retry_After="7")


def unavailable_until(moment: datetime.datetime) -> Handler:
    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        stamp = moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
        return respond(conn, 503, b"down", Retry_After=stamp)

    return handler


def slow_drip(interval: float = 0.05, size: int = 200) -> Handler:
    """A valid response whose body arrives one byte per ``interval``."""

    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        conn.sendall(head(200, {"Content-Length": str(size)}))
        for _ in range(size):
            conn.sendall(b"x")
            time.sleep(interval)
        return False

    return handler


def slow_headers(interval: float = 0.05) -> Handler:
    """Never finishes the header block: one header byte per ``interval``."""

    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(1000):
            conn.sendall(b"X-Drip: y\r\n"[:1])
            time.sleep(interval)
        return False

    return handler


def body_of(size: int, *, declare_length: bool) -> Handler:
    """``size`` bytes, with Content-Length or chunked (so only reading reveals the size)."""

    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        block = b"a" * 65536
        if request.method == "HEAD":
            conn.sendall(head(200, {"Content-Length": str(size)}))
            return True
        if declare_length:
            conn.sendall(head(200, {"Content-Length": str(size)}))
        else:
            conn.sendall(head(200, {"Transfer-Encoding": "chunked"}))
        for start in range(0, size, len(block)):
            piece = block[: min(len(block), size - start)]
            conn.sendall(piece if declare_length else b"%x\r\n%s\r\n" % (len(piece), piece))
            server.bytes_sent += len(piece)
        if not declare_length:
            conn.sendall(b"0\r\n\r\n")
        return True

    return handler


def endless_body(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    conn.sendall(head(200, {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}))
    chunk = b"%x\r\n%s\r\n" % (16384, b"[" * 16384)
    while True:
        conn.sendall(chunk)
        server.bytes_sent += 16384


def gzip_bomb(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    payload = gzip.compress(b"\0" * (8 * 1024 * 1024))
    return respond(conn, 200, payload, Content_Encoding="gzip")


def _reset(conn: socket.socket) -> None:
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def reset_before_response(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    _reset(conn)
    return False


def reset_mid_body(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    conn.sendall(head(200, {"Content-Length": "1000"}) + b"partial")
    time.sleep(0.05)
    _reset(conn)
    return False


def redirect_to(location: str, status: int = 302) -> Handler:
    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        return respond(conn, status, b"", Location=location)

    return handler


def redirect_to_query(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    """Redirects to the URL in ``?to=``; answers 200 on any other path."""
    if "to=" not in request.target:
        return ok_json(conn, request, server)
    status = int(parse_qs(urlsplit(request.target).query).get("status", ["302"])[0])
    return respond(conn, status, b"moved", Location=request.query("to"))


def redirect_loop(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    return respond(conn, 302, b"", Location=f"/loop/{len(server.requests)}")


def unavailable(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    return respond(conn, 503, b"down for maintenance", Retry_After="30")


def silence(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    """Reads the request, then says nothing until the client hangs up."""
    while conn.recv(65536):
        pass
    return False


def non_http_banner(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    """What a client sees when the configured port is some other service's."""
    conn.sendall(b"SSH-2.0-OpenSSH_9.6 not-http\r\n")
    return False


def _head_with(status: int, *lines: str) -> bytes:
    return head(status).replace(b"\r\n\r\n", ("".join(f"\r\n{x}" for x in lines)).encode()) + (
        b"\r\n\r\n"
    )


def length_over_body(*, then_close: bool) -> Handler:
    """Declares 1000 bytes, sends 10, then hangs up or stays silent."""

    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        conn.sendall(head(200, {"Content-Length": "1000"}) + b"0123456789")
        return False if then_close else silence(conn, request, server)

    return handler


def negative_length(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    conn.sendall(_head_with(200, "Content-Length: -1") + b"hello")
    return False


def conflicting_lengths(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    conn.sendall(_head_with(200, "Content-Length: 5", "Content-Length: 7") + b"hello12")
    return False


def garbled_header(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    conn.sendall(b"HTTP/1.1 200 OK\r\nthis line has no colon\r\nContent-Length: 0\r\n\r\n")
    return False


def bad_gzip(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    return respond(conn, 200, b"\x1f\x8b this is not gzip data", Content_Encoding="gzip")


MIB = 1024 * 1024


@functools.cache
def zero_bomb(decoded: int, encoding: str) -> bytes:
    """A gzip or zlib ("deflate") body that decodes to ``decoded`` zero bytes.

    Built in milliseconds rather than by compressing a GiB: after a full flush the
    compressor has no history, so every MiB of zeros compresses to the same bytes.
    """
    block = b"\0" * MIB
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    raw = piece * (decoded // MIB) + compressor.flush()
    if encoding == "deflate":
        adler = ((decoded % 65521) << 16) | 1  # adler32 of zeros: a stays 1, b counts bytes
        return b"\x78\xda" + raw + struct.pack(">I", adler)
    crc = functools.reduce(lambda c, _: zlib.crc32(block, c), range(decoded // MIB), 0)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + raw + struct.pack("<II", crc, decoded & 0xFFFFFFFF)


def compression_bomb(encoding: str, decoded: int = 1024 * MIB) -> Handler:
    """About 1 MB on the wire, ``decoded`` bytes once decoded; chunked, so that only
    decoding (not a declared length) can tell the client how big it is."""
    payload = zero_bomb(decoded, encoding)

    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        conn.sendall(head(200, {"Transfer-Encoding": "chunked", "Content-Encoding": encoding}))
        for start in range(0, len(payload), 16384):
            piece = payload[start : start + 16384]
            conn.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            server.bytes_sent += len(piece)
        conn.sendall(b"0\r\n\r\n")
        return True

    return handler


@dataclass
class RawServer:
    """A listener that runs ``script`` on each accepted socket before any HTTP is read."""

    script: Callable[[socket.socket], None]
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self._listener = _Listener(self.host, self._serve, backlog=16)
        self.port = self._listener.port

    def url(self, path: str = "/", *, scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.script(conn)
        except OSError:
            pass  # the client hung up: what the scripts provoke
        finally:
            self._listener.forget(conn)
            conn.close()


def tls_handshake_alert(conn: socket.socket) -> None:
    """Reads the ClientHello and answers with a fatal handshake_failure alert."""
    conn.recv(65536)
    conn.sendall(b"\x15\x03\x03\x00\x02\x02\x28")


@contextmanager
def full_accept_queue(host: str = "127.0.0.1") -> Iterator[int]:
    """A port whose listener never accepts and whose backlog is already full.

    The kernel then drops further SYNs, so a connect() hangs until its timeout:
    the closest local stand-in for a firewall that silently drops packets.
    """
    listener = socket.create_server((host, 0), backlog=0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(3)]
    try:
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex((host, port))
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@contextmanager
def raw_serving(script: Callable[[socket.socket], None]) -> Iterator[RawServer]:
    server = RawServer(script)
    try:
        yield server
    finally:
        server.close()


@contextmanager
def recording_connects() -> Iterator[list[tuple[str, int]]]:
    """Every address any socket in this process tries to connect to, while active.

    The proof that a refused destination was refused before a socket reached it.
    """
    attempts: list[tuple[str, int]] = []
    original = socket.socket.connect

    def connect(self: socket.socket, address: tuple) -> None:
        attempts.append((address[0], address[1]))
        original(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    try:
        yield attempts
    finally:
        socket.socket.connect = original  # type: ignore[method-assign]


@contextmanager
def serving(handler: Handler, host: str = "127.0.0.1", **kwargs) -> Iterator[HostileServer]:
    server = HostileServer(handler, host, **kwargs)
    try:
        yield server
    finally:
        server.close()


# --- TLS ------------------------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, *, ca: bool, san=None, days=1):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def make_tls(directory: Path, hostname: str, *, days: int = 1) -> tuple[ssl.SSLContext, str]:
    """A server context with a certificate for ``hostname`` and the CA file clients trust.

    The certificates are valid for ``days`` days.
    """
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = _name("Outbound Test CA")
    ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True, days=days)
    san = [x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.9"))]
    leaf = _certificate(
        _name(hostname), ca.subject, leaf_key.public_key(), ca_key, ca=False, san=san, days=days
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "leaf.pem").write_bytes(leaf.public_bytes(pem))
    (directory / "leaf.key").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "leaf.pem", directory / "leaf.key")
    return context, str(directory / "ca.pem")
