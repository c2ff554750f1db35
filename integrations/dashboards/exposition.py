"""The Prometheus text exposition format (version 0.0.4), written directly.

prometheus_client's generate_latest validates and escapes every label name of every
sample with regular expressions; at 5,000 endpoints (about 100,000 samples) that took
seconds per scrape. Here each endpoint's label set is escaped once and reused for all
its lines, which keeps a scrape to tens of milliseconds of formatting.

Counters follow the 0.0.4 format as prometheus_client writes it: the HELP and TYPE lines
name the sample, ``x_total``. prometheus_client's parser reads that as the OpenMetrics
family ``x`` with its ``x_total`` samples; a TYPE line naming ``x`` instead would leave
the ``x_total`` samples untyped, in a family of their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def labels_text(**labels: str) -> str:
    """``a="x",b="y"`` with the values escaped, ready to put between braces."""
    return ",".join(f'{name}="{_escape(str(value))}"' for name, value in labels.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


@dataclass
class MetricFamily:
    """One metric's HELP, TYPE and sample lines."""

    name: str
    type: str
    help: str
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.type == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"counter {self.name!r} must be named ..._total")

    def add(self, labels: str, value: float) -> None:
        self.lines.append(
            f"{self.name}{{{labels}}} {number(value)}" if labels else f"{self.name} {number(value)}"
        )

    def add_histogram(self, labels: str, buckets: list[tuple[str, int]], total: float) -> None:
        """``buckets`` are cumulative (upper bound, count) pairs, the last one ``+Inf``."""
        joiner = f"{labels}," if labels else ""
        for bound, count in buckets:
            self.lines.append(f'{self.name}_bucket{{{joiner}le="{bound}"}} {count}')
        self.lines.append(f"{self.name}_sum{{{labels}}} {number(total)}")
        self.lines.append(f"{self.name}_count{{{labels}}} {buckets[-1][1]}")


def exposition(families: list[MetricFamily]) -> str:
    out: list[str] = []
    for family in families:
        help_text = family.help.replace("\\", "\\\\").replace("\n", "\\n")
        out.append(f"# HELP {family.name} {help_text}")
        out.append(f"# TYPE {family.name} {family.type}")
        out.extend(family.lines)
    return "\n".join(out) + "\n"
