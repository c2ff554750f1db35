"""One JSON shape for every API error: ``{"error": {"code", "message", "details"}}``.

DRF's own exceptions (validation, authentication, permission, not found, throttled)
and the portal's typed failures (PortalError, OutboundError, a delete refused because
the object is still in use) all leave through ``api_exception_handler``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    JsonResponse,
)
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import page_not_found, server_error
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from integrations.errors import (
    ConfigurationError,
    PortalError,
    TokenEndpointError,
    TokenResponseError,
)
from integrations.outbound import OutboundError
from integrations.outbound.errors import UpstreamTimeout, classify_error

logger = logging.getLogger(__name__)

SERVER_ERROR_MESSAGE = "The portal failed to handle this request; it has been logged."


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. invalid, not_found.")
    message = serializers.CharField(help_text="What went wrong, for a person to act on.")
    details = serializers.DictField(
        help_text="Per-field messages for validation errors; other facts otherwise."
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    error = ErrorBodySerializer()


class PortalApiError(exceptions.APIException):
    """An error with its status, code, message and details decided here."""

    def __init__(
        self, message: str, *, code: str, status_code: int, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.status_code = status_code
        self.details = details or {}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    api_error = _as_api_exception(exc)
    response = drf_exception_handler(api_error, context)
    if response is None:  # pragma: no cover - every APIException gets a response
        return None
    response.data = {"error": _error_body(api_error)}
    return response


def _as_api_exception(exc: Exception) -> exceptions.APIException:
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, ProtectedError):
        return _protected(exc)
    if isinstance(exc, IntegrityError):
        return PortalApiError(
            "The change conflicts with existing data (a unique or consistency rule).",
            code="conflict",
            status_code=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, PortalError | OutboundError):
        return _upstream(exc)
    if isinstance(exc, RequestDataTooBig):
        return request_too_large()
    logger.exception("unhandled API error")
    return PortalApiError(
        SERVER_ERROR_MESSAGE,
        code="server_error",
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def request_too_large() -> PortalApiError:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return PortalApiError(
        f"The request body is larger than the portal accepts ({limit} bytes).",
        code="request_too_large",
        status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        details={"max_bytes": limit},
    )


# PostgreSQL's SQLSTATEs for a date or time it cannot hold: datetime_field_overflow and
# invalid_time_zone_displacement_value. Only an input value can cause either.
DATETIME_OUT_OF_RANGE_STATES = frozenset({"22008", "22009"})


def is_datetime_out_of_range(exc: DataError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in DATETIME_OUT_OF_RANGE_STATES


def datetime_out_of_range() -> PortalApiError:
    """A date the database refused when the query ran (the admin's changelist filters)."""
    return PortalApiError(
        "A date or time is out of range: use a UTC offset between -15:59 and +15:59 "
        "and a moment within the years 1 to 9999.",
        code="invalid_datetime",
        status_code=status.HTTP_400_BAD_REQUEST,
    )


def error_json_response(error: PortalApiError) -> JsonResponse:
    """The error shape outside DRF's views (middleware, Django's handlers)."""
    return JsonResponse({"error": _error_body(error)}, status=error.status_code)


def _protected(exc: ProtectedError) -> PortalApiError:
    used_by = [
        {"type": obj._meta.label_lower, "id": obj.pk} for obj in list(exc.protected_objects)[:20]
    ]
    return PortalApiError(
        f"Cannot delete: still used by {len(exc.protected_objects)} object(s). "
        "Point them at something else first.",
        code="protected",
        status_code=status.HTTP_409_CONFLICT,
        details={"used_by": used_by},
    )


def _upstream(exc: PortalError | OutboundError) -> PortalApiError:
    """A service failure: our configuration (409), the customer's API (502, 504 on timeout)."""
    cause = getattr(exc, "cause", exc)
    details: dict[str, Any] = {}
    step = getattr(exc, "step", None)
    if step is not None:
        details.update(step=step.name, credential=step.credential)
    if isinstance(cause, OutboundError):
        details["error_class"] = str(classify_error(cause))
    if isinstance(getattr(cause, "status", None), int):
        details["upstream_status"] = cause.status  # type: ignore[union-attr]
    message = getattr(exc, "message", str(exc))
    return PortalApiError(message, code=exc.code, status_code=_status_of(cause), details=details)


def _status_of(cause: Exception) -> int:
    if isinstance(cause, ConfigurationError):
        return status.HTTP_409_CONFLICT
    if isinstance(cause, UpstreamTimeout):
        return status.HTTP_504_GATEWAY_TIMEOUT
    if isinstance(cause, OutboundError | TokenEndpointError | TokenResponseError):
        return status.HTTP_502_BAD_GATEWAY
    return status.HTTP_400_BAD_REQUEST


def _error_body(exc: exceptions.APIException) -> dict[str, Any]:
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return {"code": "invalid", "message": _validation_message(details), "details": details}
    codes = exc.get_codes()
    details = dict(getattr(exc, "details", {}))
    wait = getattr(exc, "wait", None)
    if wait is not None:
        details["retry_after_s"] = round(wait)
    return {
        "code": codes if isinstance(codes, str) else exc.default_code,
        "message": str(exc.detail),
        "details": details,
    }


def _validation_message(details: dict[str, Any]) -> str:
    """'Invalid input: oauth_client: Must belong to ...' naming up to three fields."""
    parts = [f"{name}: {_first(messages)}" for name, messages in list(details.items())[:3]]
    more = " (and more)" if len(details) > 3 else ""
    return "Invalid input: " + "; ".join(parts) + more if parts else "Invalid input."


def _first(messages: Any) -> str:
    if isinstance(messages, list) and messages:
        return _first(messages[0])
    if isinstance(messages, dict) and messages:
        key, value = next(iter(messages.items()))
        return f"{key}: {_first(value)}"
    return str(messages)


def api_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 handler: the error shape for /api/ paths, the plain page elsewhere."""
    if request.path.startswith("/api/"):
        return _no_such_route(request, slashed=None)
    return page_not_found(request, exception)


def api_server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler (a failure outside DRF's views): the error shape under /api/."""
    if request.path.startswith("/api/"):
        body = {"code": "server_error", "message": SERVER_ERROR_MESSAGE, "details": {}}
        return JsonResponse({"error": body}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return server_error(request)


# Nothing to protect, and an API client's POST carries no CSRF token: it must get the 404.
@csrf_exempt
def api_route_not_found(request: HttpRequest, unmatched: str = "") -> HttpResponse:
    """The last route under /api/: no other matched. A route, not only the 404 handler,
    because with DEBUG on Django answers an unmatched path with its HTML debug page."""
    slashed = _slashed_route(request)
    if slashed is not None and request.method in ("GET", "HEAD"):
        # What CommonMiddleware's APPEND_SLASH did before this route caught everything.
        return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return _no_such_route(request, slashed=slashed)


def _slashed_route(request: HttpRequest) -> str | None:
    """The path with a trailing slash, when that is a real API route."""
    if request.path_info.endswith("/"):
        return None
    try:
        match = resolve(request.path_info + "/")
    except Resolver404:
        return None
    return None if match.url_name == "api-not-found" else request.path + "/"


def _no_such_route(request: HttpRequest, *, slashed: str | None) -> JsonResponse:
    message = f"No such API route: {request.method} {request.path[:200]}."
    details: dict[str, Any] = {}
    if slashed is not None:
        message += f" API paths end with a slash: {slashed}"
        details["did_you_mean"] = slashed
    body = {"code": "not_found", "message": message, "details": details}
    return JsonResponse({"error": body}, status=status.HTTP_404_NOT_FOUND)
