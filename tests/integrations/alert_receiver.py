"""A local alert webhook that notes every delivery: its idempotency key, when, and whether
the receiver acknowledged it (answered before the sender went away)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.integrations.webhook_receiver import WebhookReceiver


@dataclass
class Delivery:
    header_key: str | None
    body_key: str | None
    transition_id: int
    arrived: float  # time.monotonic()
    acknowledged: bool = False


class AlertReceiver(WebhookReceiver):
    """A webhook receiver that notes each delivery's key and whether it was acknowledged.

    ``delay_s`` makes every answer that late (a slow receiver); ``hold_nth`` holds the
    n-th request (1-based) until ``release()`` and then drops it unanswered, as a
    receiver whose sender died meanwhile never gets to acknowledge it.
    """

    def __init__(self, *, status: int = 200, delay_s: float = 0, hold_nth: int = 0) -> None:
        self.delay_s, self.hold_nth = delay_s, hold_nth
        self.deliveries: list[Delivery] = []
        self.held = threading.Event()  # the held request has arrived
        self._release = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        super().__init__(status=status)

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
        self._answer(handler)
        delivery.acknowledged = True

    def release(self) -> None:
        self._release.set()

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def acknowledged_per_transition(self) -> Counter[int]:
        return Counter(d.transition_id for d in self.snapshot() if d.acknowledged)

    def stop(self) -> None:
        self._stopping.set()
        self._release.set()
        super().stop()
