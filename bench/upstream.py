"""A minimal asyncio server that speaks the guide's contract, for probe benchmarks.

Every answer waits ``--delay-ms`` (50 by default) like a real backend, without
holding a thread; keep-alive connections are served by one event loop. It checks
only that the three credentials are present, not their values, and, for requests
that say where they were meant to go (X-Bench-Expect), that they arrived there.

    python -m bench.upstream --port 8099 --delay-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

PROFILE = json.dumps({"customer_id": "c0ffee", "first_name": "Bench", "plan": "gold"}).encode()
UNAUTHORIZED = b'{"error": "invalid_token"}'
MISDIRECTED = b'{"error": "misdirected"}'
# A request naming the method and target it was meant for ("GET /a?x=1") in this header
# is answered 421 when it arrived as anything else: a client sent it to the wrong URL.
EXPECT_HEADER = b"x-bench-expect:"
REASONS = {200: b"OK", 401: b"Unauthorized", 421: b"Misdirected Request"}


def _token_answer() -> bytes:
    return json.dumps(
        {
            "token_type": "Bearer",
            "issued_at": str(int(time.time() * 1000)),
            "client_id": "bench",
            "access_token": "bench-token",
            "scope": "client_credentials",
            "expires_in": "28799",
        }
    ).encode()


def _jwt_answer() -> bytes:
    issued = str(int(time.time() * 1000))
    return json.dumps(
        {"issued_at": issued, "JWT": "bench.jwt.value", "expires_in": "28799"}
    ).encode()


def _misdirected(head: bytes) -> bool:
    request_line, *lines = head.split(b"\r\n")
    for line in lines:
        if line[: len(EXPECT_HEADER)].lower() == EXPECT_HEADER:
            return line[len(EXPECT_HEADER) :].strip() != request_line.rsplit(b" ", 1)[0]
    return False


def _answer(path: str, head: bytes) -> tuple[int, bytes]:
    if _misdirected(head):
        return 421, MISDIRECTED
    if path.startswith("/oauth/access_token"):
        return 200, _token_answer()
    if path.startswith("/auth/customer_authenticate"):
        return 200, _jwt_answer()
    lowered = head.lower()
    if (
        b"authorization: bearer" in lowered
        and b"customer-auth:" in lowered
        and b"api-key:" in lowered
    ):
        return 200, PROFILE
    return 401, UNAUTHORIZED


class Contract(asyncio.Protocol):
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            path = head.split(b" ", 2)[1].decode()
            status, body = _answer(path, head)
            loop = asyncio.get_running_loop()
            loop.call_later(self.delay_s, self._reply, status, body)

    def _reply(self, status: int, body: bytes) -> None:
        if self.transport.is_closing():
            return
        reason = REASONS[status]
        self.transport.write(  # type: ignore[attr-defined]
            b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (status, reason, len(body), body)
        )


async def serve(host: str, port: int, delay_ms: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Contract(delay_ms / 1000), host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--delay-ms", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.delay_ms))


if __name__ == "__main__":
    main()
