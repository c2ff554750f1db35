"""Which template variables a call of an endpoint needs, and which a caller left unset.

A call takes the endpoint's sample values first, then the caller's (as
``calls.call_prepare`` merges them). A variable with neither, or with an empty value,
is unset: the test call form and the API refuse it naming it, and the curl export
writes it as ``${VAR_NAME:?set VAR_NAME}``; ``calls.call_prepare`` refuses it too, for
callers without a form (probes, onboarding's first call). Never is an empty string sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.models import Endpoint
from integrations.outbound.redaction import is_sensitive_key
from integrations.services.templates import template_variables


@dataclass(frozen=True)
class VariableUse:
    """One variable of an endpoint's templates: where it goes, and its sample if any."""

    name: str
    places: tuple[str, ...]  # "the path", "header x-order", "the body"
    sample: str | None

    @property
    def where(self) -> str:
        return ", ".join(self.places)

    @property
    def secret(self) -> bool:
        """Named like a credential: its sample is used but never shown or pre-filled."""
        return is_sensitive_key(self.name)


def endpoint_variable_uses(*, endpoint: Endpoint) -> list[VariableUse]:
    """Every variable the endpoint's path, headers and body use, in order, once."""
    samples = endpoint.sample_variables or {}
    places: dict[str, list[str]] = {}
    for place, template in _templates(endpoint):
        for name in template_variables(template):
            places.setdefault(name, []).append(place)
    return [
        VariableUse(name, tuple(where), str(samples[name]) if name in samples else None)
        for name, where in places.items()
    ]


def call_variables_merge(*, endpoint: Endpoint, given: Mapping[str, Any]) -> dict[str, str]:
    """The values a call sends: the samples, overridden by what the caller gave."""
    merged = {**(endpoint.sample_variables or {}), **given}
    return {str(name): str(value) for name, value in merged.items()}


def call_variables_missing(*, endpoint: Endpoint, given: Mapping[str, Any]) -> list[VariableUse]:
    """The variables the call needs that have no value, or only an empty one."""
    values = call_variables_merge(endpoint=endpoint, given=given)
    return [use for use in endpoint_variable_uses(endpoint=endpoint) if not values.get(use.name)]


def missing_variables_message(missing: list[VariableUse]) -> str:
    """One sentence naming each unset variable and where the endpoint uses it."""
    named = "; ".join(f"'{use.name}' (used in {use.where})" for use in missing)
    return f"Set a value for {named}: it has no sample value, and an empty one is not sent."


def _templates(endpoint: Endpoint) -> list[tuple[str, Any]]:
    headers = endpoint.headers_template if isinstance(endpoint.headers_template, dict) else {}
    return [
        ("the path", endpoint.path),
        *((f"header {name}", value) for name, value in headers.items()),
        ("the body", endpoint.body_template),
    ]
