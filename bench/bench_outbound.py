"""Benchmark of the outbound edge (prints figures; not a timed test).

Run: .venv/bin/python -m bench.bench_outbound

Against a local keep-alive HTTP server it prints: latency of ``send`` next to a bare
pooled ``requests.Session`` call to the same URL (the edge's own overhead: policy
check, pinning, deadline watch, capped read, exchange record), the TCP connections
the server accepted (pooling), throughput with several threads, and the cost of
redacting one exchange.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from integrations.outbound import Allowlist, OutboundPolicy, OutboundRequest, send

BODY = json.dumps({"access_token": "x" * 40, "items": list(range(200))}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so pooling shows
    # Head and body in one segment: otherwise delayed ACKs add ~40 ms to every call.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the figures readable


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True
    accepted = 0

    def get_request(self):  # type: ignore[no-untyped-def]
        self.accepted += 1
        return super().get_request()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(label: str, samples: list[float]) -> None:
    print(
        f"{label:<28} p50 {percentile(samples, 0.5):7.3f} ms  p99 {percentile(samples, 0.99):7.3f}"
        f" ms  mean {statistics.fmean(samples):7.3f} ms  (n={len(samples)})"
    )


def main(runs: int = 2000, threads: int = 8) -> None:
    server = _CountingServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/bench"
    policy = OutboundPolicy(allowlist=Allowlist.from_entries([f"127.0.0.1:{server.server_port}"]))
    request = OutboundRequest("GET", url)

    bare = requests.Session()
    bare.get(url, timeout=5).raise_for_status()
    report("bare requests.Session", timed(lambda: bare.get(url, timeout=5).content, runs))
    before = server.accepted
    send(request, policy=policy)
    report("outbound send()", timed(lambda: send(request, policy=policy), runs))
    print(f"connections accepted for {runs + 1} send() calls: {server.accepted - before}")

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: send(request, policy=policy), range(runs)))
    elapsed = time.perf_counter() - started
    print(f"throughput, {threads} threads: {runs / elapsed:,.0f} calls/s")

    exchange = send(request, policy=policy)
    secrets = ["x" * 40]
    report("redact_exchange", timed(lambda: exchange.redacted(secrets=secrets), 500))
    server.shutdown()


if __name__ == "__main__":
    main()
