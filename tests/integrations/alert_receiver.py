"""A local alert webhook that notes every delivery: its idempotency key, when, and whether
the receiver acknowledged it (answered before the sender went away)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers import thread_join


@dataclass
class Delivery:
    header_key: str | None
    body_key: str | None
    transition_id: int
    arrived: float  # time.monotonic()
    acknowledged: bool = False


class AlertReceiver:
    """Serves POST on 127.0.0.1 in a thread.

    ``delay_s`` makes every answer that late (a slow receiver); ``hold_nth`` holds the
    n-th request (1-based) until ``release()`` and then drops it unanswered, as a
    receiver whose sender died meanwhile never gets to acknowledge it.
    """

    def __init__(self, *, status: int = 200, delay_s: float = 0, hold_nth: int = 0) -> None:
        self.status, self.delay_s, self.hold_nth = status, delay_s, hold_nth
        self.deliveries: list[Delivery] = []
        self.held = threading.Event()  # the held request has arrived
        self._release = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                receiver._serve(self, body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _serve(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        delivery = Delivery(
            header_key=handler.headers.get("Idempotency-Key"),
            body_key=body.get("idempotency_key"),
            transition_id=body["portal"]["transition_id"],
            arrived=time.monotonic(),
        )
        with self._lock:
            self.deliveries.append(delivery)
            held = len(self.deliveries) == self.hold_nth
        if held:
            self.held.set()
            self._release.wait()
            handler.close_connection = True
            return  # never answered: the sender is gone
        # The wait is the receiver being slow on purpose; it ends early when stopping.
        self._stopping.wait(self.delay_s)
        handler.send_response(self.status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        delivery.acknowledged = True

    def release(self) -> None:
        self._release.set()

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def acknowledged_per_transition(self) -> Counter[int]:
        return Counter(d.transition_id for d in self.snapshot() if d.acknowledged)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self._stopping.set()
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        thread_join(self.thread, what="the alert receiver")
