"""OpenAPI generation: a description for every operation and the error responses it can give."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from integrations.api.errors import ErrorSerializer

ACTION_TEXT = {
    "list": "List {plural}. Filter with the query parameters, sort with `ordering` "
    "(prefix `-` to reverse), page with `page` and `page_size`.",
    "retrieve": "Read one {name}.",
    "create": "Create a {name}. Secrets are write-only: the response says only whether "
    "each is set, with a short fingerprint. Writes an audit event.",
    "update": "Replace a {name}. A secret left out keeps its stored value. "
    "Writes an audit event naming the changed fields.",
    "partial_update": "Change some fields of a {name}. A secret left out keeps its stored value. "
    "Writes an audit event naming the changed fields.",
    "destroy": "Delete a {name}. Refused with 409 while other configuration still uses it. "
    "Writes an audit event.",
}

ERRORS = {
    "400": "Invalid input: `details` maps each field to its messages.",
    "401": "Not authenticated, or the API token is invalid, expired or revoked.",
    "403": "Authenticated, but the role or the token's scope does not allow this.",
    "404": "No such object (or page).",
    "409": "Conflicts with stored data: still in use, a duplicate, or configuration that "
    "cannot work.",
    "429": "Too many failed authentication attempts from this address; retry later.",
}
WRITE_ONLY_ERRORS = {"409"}


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class PortalAutoSchema(AutoSchema):
    def get_description(self) -> str:  # type: ignore[override]
        """The action's own text (model actions) followed by the view's docstring."""
        own = super().get_description()
        action = getattr(self.view, "action", None)
        template = ACTION_TEXT.get(action or "")
        model = getattr(getattr(self.view, "queryset", None), "model", None)
        if template is None or model is None:
            return own
        meta = model._meta
        text = template.format(name=meta.verbose_name, plural=meta.verbose_name_plural)
        return f"{text}\n\n{own}" if own else text

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        self._add_error_responses(operation["responses"])
        self._describe_ordering(operation.get("parameters", []))
        return operation

    def _add_error_responses(self, responses: dict[str, Any]) -> None:
        """Every operation documents the typed errors it may return, in the Error shape."""
        ref = self.resolve_serializer(ErrorSerializer, "response").ref
        for code, text in ERRORS.items():
            if code in WRITE_ONLY_ERRORS and self.method in ("GET", "HEAD"):
                continue
            responses.setdefault(
                code,
                {"description": text, "content": {"application/json": {"schema": ref}}},
            )

    def _describe_ordering(self, parameters: list[dict[str, Any]]) -> None:
        fields = getattr(self.view, "ordering_fields", None)
        for parameter in parameters:
            if parameter.get("name") == "ordering" and fields:
                parameter["description"] = (
                    f"Sort by {', '.join(fields)}; prefix - to reverse, comma-separate several."
                )


class FreeFormDocumentExtension(OpenApiSerializerExtension):
    """Readiness reports are JSON documents built by services.readiness, without fixed fields."""

    target_class = "integrations.api.readiness.ReadinessReportSerializer"
    optional = True

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": {},
            "description": "The readiness report as its redacted JSON export.",
        }
