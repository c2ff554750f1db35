"""Customers whose API misbehaves: endpoints pointed at hostile local servers.

Used by the test-call, probe and readiness tests that must store a full record of a
call that got no (usable) answer. Every server or socket made here is closed by the
context manager that made it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from integrations.models import ApiKey, Customer, Endpoint, Environment
from tests.integrations.outbound_servers import HostileServer, Received, respond

# A value that must never appear in what we store or show.
KEY_CANARY = "fault-world-api-key-6f1c"


def non_http_banner(conn: socket.socket, request: Received, server: HostileServer) -> bool:
    """Answers like an SSH daemon would: not an HTTP status line at all."""
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
    return False


def rate_limited_for(seconds: int) -> Any:
    def handler(conn: socket.socket, request: Received, server: HostileServer) -> bool:
        return respond(conn, 429, b'{"error": "slow down"}', Retry_After=str(seconds))

    return handler


@contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    yield port


@contextmanager
def full_accept_queue() -> Iterator[int]:
    """A port whose accept queue is full, so a new connect() hangs until it times out."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(3)]
    try:
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def fault_environment(*, port: int, slug: str = "uat", customer: Customer | None = None) -> Any:
    customer = customer or Customer.objects.create(name=f"Faulty {slug}", slug=f"faulty-{slug}")
    return Environment.objects.create(
        customer=customer,
        name=slug.upper(),
        slug=slug,
        base_url=f"http://127.0.0.1:{port}",
        connect_timeout_ms=300,
        deadline_ms=1500,
    )


def fault_endpoint(environment: Environment, *, slug: str = "orders", **fields: Any) -> Endpoint:
    """An endpoint with an API key (a secret to keep out of the record) and no login."""
    key = ApiKey.objects.create(
        environment=environment, name=f"key-{slug}", header_name="X-Api-Key", value=KEY_CANARY
    )
    fields.setdefault("path", "/v1/orders/{order_id}?expand=lines")
    fields.setdefault("sample_variables", {"order_id": "A-1001"})
    return Endpoint.objects.create(
        environment=environment, name=slug.title(), slug=slug, api_key=key, **fields
    )
