"""Template filters of the dashboards: states, durations, latencies and ratios for people."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from integrations import clock
from integrations.choices import HealthState
from integrations.models.health import LATENCY_BUCKETS_MS

register = template.Library()


@register.filter
def state_label(state: str | None) -> str:
    try:
        return str(HealthState(state or HealthState.UNKNOWN).label)
    except ValueError:
        return str(state)


def _missing(value: object) -> bool:
    # A missing template variable arrives as "" rather than None.
    return value is None or value == ""


def _duration(total: int) -> str:
    """3725 → "1h 02m": the two largest units, for a table cell."""
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@register.filter
def expiry(value: Any) -> str:
    """Seconds left until an expiry: 3725 → "in 1h 02m"; a negative value → "expired 4s ago".

    Each filter words the whole phrase, so a template never puts "in" in front of a
    time that has passed.
    """
    return _signed(value, past="expired {} ago")


@register.filter
def due_in(value: Any) -> str:
    """Seconds until something scheduled: 3725 → "in 1h 02m"; negative → "overdue by 4s"."""
    return _signed(value, past="overdue by {}")


def _signed(value: Any, *, past: str) -> str:
    """ "in <duration>" ahead, ``past`` filled with the duration once it has passed."""
    if _missing(value):
        return "—"
    text = _duration(abs(int(value)))
    return past.format(text) if value < 0 else f"in {text}"


@register.filter
def ms(value: Any) -> str:
    if _missing(value):
        return "—"
    if value >= 1000:
        return f"{value / 1000:.3g} s"
    return f"{value:.0f} ms"


@register.filter
def ms_bound(value: Any) -> str:
    """A percentile read from the histogram is its bucket's upper bound, not a measurement:
    2500 → "≤ 2.5 s"; the open-ended last bucket → "> 10 s"."""
    if _missing(value):
        return "—"
    if math.isinf(value):
        return f"> {ms(LATENCY_BUCKETS_MS[-1])}"
    return f"≤ {ms(value)}"


@register.filter
def portal_time(moment: datetime | None, ago: str = "") -> SafeString | str:
    """The one way pages show a moment: "2026-12-02 21:44:13 UTC" in settings.TIME_ZONE,
    in a <time> element with the ISO value; ``portal_time:"ago"`` adds "(5 minutes ago)".
    """
    if _missing(moment) or moment is None:
        return "—"
    local, text = _local(moment), portal_time_text(moment)
    if not ago:
        return format_html('<time datetime="{}">{}</time>', local.isoformat(), text)
    seconds = int((clock.now() - local).total_seconds())
    relative = f"{_duration(seconds)} ago" if seconds >= 0 else f"in {_duration(-seconds)}"
    return format_html(
        '<time datetime="{}">{}</time> <span class="ago">({})</span>',
        local.isoformat(),
        text,
        relative,
    )


def portal_time_text(moment: datetime) -> str:
    """A moment as every page words it, without markup: "2026-12-02 21:44:13 UTC", in
    settings.TIME_ZONE (for a title or an aria-label, where no <time> element can go)."""
    local = _local(moment)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or local.strftime('%z')}"


def _local(moment: datetime) -> datetime:
    if timezone.is_naive(moment):  # stored times are aware; a naive one is in TIME_ZONE
        moment = timezone.make_aware(moment)
    return timezone.localtime(moment, timezone.get_default_timezone())


@register.filter
def percent(ratio: Any) -> str:
    if _missing(ratio):
        return "—"
    return f"{ratio * 100:.2f} %"


@register.filter
def until(moment: Any, now: Any) -> float | None:
    """Seconds from ``now`` to ``moment`` (both datetimes), for ``expiry`` and ``due_in``."""
    if _missing(moment) or _missing(now):
        return None
    return float((moment - now).total_seconds())


@register.filter
def assertion_text(assertion: object) -> str:
    """{"type": "json_exists", "path": "customer_id"} → "json_exists customer_id"."""
    if not isinstance(assertion, dict):
        return str(assertion)
    rest = " ".join(str(v) for k, v in assertion.items() if k != "type")
    return f"{assertion.get('type', '?')} {rest}".strip()
