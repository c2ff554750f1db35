"""The dashboards' colours pass WCAG AA (4.5:1) in light and dark, computed from portal.css,
and the admin pages' own status colours from test_call.css and readiness.css."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "static" / "portal"
AA = 4.5
ADMIN_LIGHT_BG, ADMIN_DARK_BG = "#ffffff", "#121212"  # Django admin's --body-bg


def luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def custom_properties(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))


def portal_schemes() -> dict[str, dict[str, str]]:
    css = (STATIC / "portal.css").read_text()
    light = custom_properties(css[css.index(":root {") : css.index("}", css.index(":root {"))])
    dark_start = css.index("@media (prefers-color-scheme: dark)")
    dark = {**light, **custom_properties(css[dark_start : css.index("}\n}", dark_start)])}
    return {"light": light, "dark": dark}


PAIRS = [("pill-fg", state) for state in ("healthy", "degraded", "down", "blocked", "unknown")] + [
    ("fg", "bg"),
    ("fg", "card"),
    ("muted", "card"),
    ("muted", "bg"),
    ("accent", "card"),
    ("card", "accent"),  # primary buttons
    ("ok-fg", "card"),
    ("bad-fg", "card"),
    ("bad-fg", "failing-bg"),
    ("fg", "message-bg"),
    ("fg", "message-error-bg"),
    ("fg", "control-bg"),
    ("topbar-link", "topbar-bg"),
    ("topbar-fg", "topbar-bg"),
]


def test_contrast_is_computed_as_wcag_says() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#dddddd", "#ffffff") == pytest.approx(1.36, abs=0.01)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("fg", "bg"), PAIRS)
def test_every_dashboard_colour_pair_passes_aa(scheme: str, fg: str, bg: str) -> None:
    colours = portal_schemes()[scheme]
    ratio = contrast(colours[fg], colours[bg])
    assert ratio >= AA, f"{scheme}: --{fg} on --{bg} is {ratio:.2f}:1"


@pytest.mark.parametrize("sheet", ["test_call.css", "readiness.css"])
def test_the_admin_pages_status_colours_pass_aa_in_both_themes(sheet: str) -> None:
    css = (STATIC / sheet).read_text()
    light = custom_properties(css[: css.index("@media")])
    dark = custom_properties(css[css.index('html[data-theme="dark"]') :])
    for name in ("portal-ok", "portal-warn"):
        assert contrast(light[name], ADMIN_LIGHT_BG) >= AA, (sheet, name, "light")
        assert contrast(dark[name], ADMIN_DARK_BG) >= AA, (sheet, name, "dark")
    assert "message-success-bg" not in css  # a background colour is never text
