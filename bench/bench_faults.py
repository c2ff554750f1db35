"""The fault table: each misbehaving upstream of the fault corpus through both clients.

Run: .venv/bin/python -m bench.bench_faults [runs]

For every fault in tests/integrations/test_outbound_faults.py it prints, per client
(requests ``send`` and the aiohttp ``AsyncBatchClient``), the error code and timeout
phase it answered with, the median wall time over ``runs`` calls, and the highest
traced memory peak. Deadline 1 s, connect timeout 0.5 s, size cap 1 MiB, as in the test.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from tests.integrations.test_outbound_faults import (  # noqa: E402
    CLIENTS,
    FAULTS,
    Fault,
    Run,
    run_fault,
    signature,
)


def answer(run: Run) -> str:
    found = signature(run.outcome)
    if found["error"] is None:
        return f"ok {found['status']}"
    parts = [found["code"]]
    if found["phase"] is not None:
        parts.append(f"{found['phase']} {found['timeout_s']:g}s")
    if found["status"] is not None:
        parts.append(str(found["status"]))
    return " / ".join(parts)


def measure(fault: Fault, runs: int) -> dict[str, list[Run]]:
    measured: dict[str, list[Run]] = {name: [] for name in CLIENTS}
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(runs):
            for name in CLIENTS:
                (Path(tmp) / str(attempt) / name).mkdir(parents=True)
            for name, (run, _) in run_fault(fault, Path(tmp) / str(attempt)).items():
                measured[name].append(run)
    return measured


def main(runs: int = 3) -> None:
    width = max(len(fault.name) for fault in FAULTS)
    columns = "  ".join(f"{name + ': answer':<38} {'ms':>7} {'peak KiB':>8}" for name in CLIENTS)
    print(f"{'fault':<{width}}  {columns}  same")
    for fault in FAULTS:
        measured = measure(fault, runs)
        cells, answers = [], set()
        for runs_of_client in measured.values():
            answers.update(answer(run) for run in runs_of_client)
            ms = statistics.median(run.seconds * 1000 for run in runs_of_client)
            peak = max(run.peak_bytes for run in runs_of_client) / 1024
            cells.append(f"{answer(runs_of_client[0]):<38} {ms:7.1f} {peak:8.0f}")
        print(f"{fault.name:<{width}}  {'  '.join(cells)}  {'yes' if len(answers) == 1 else 'NO'}")
    print(f"(median of {runs} runs per client; deadline 1 s, connect timeout 0.5 s, cap 1 MiB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
