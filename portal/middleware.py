"""Bad input from the network becomes a 4xx, not a 500.

- A body declared larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is refused with 413 before
  any middleware or view reads it (CSRF reads form bodies first, DRF JSON ones later).
- A date the database cannot hold (an admin changelist's ``?at__gte=...-16:00``) is a
  400, as PostgreSQL refuses it only when the query runs, long after any form checked.

API paths get the API's error shape; pages get a short HTML page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import DataError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from integrations.api.errors import (
    PortalApiError,
    datetime_out_of_range,
    error_json_response,
    is_datetime_out_of_range,
    request_too_large,
)


class BadInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if declared_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            # Unread on purpose; the WSGI server discards it (no Connection header here:
            # WSGI forbids hop-by-hop headers from the application).
            return error_response(request, request_too_large())
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DataError) and is_datetime_out_of_range(exception):
            return error_response(request, datetime_out_of_range())
        return None


def declared_length(request: HttpRequest) -> int:
    """The Content-Length the client sent; 0 when missing or garbled, as Django reads it."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def error_response(request: HttpRequest, error: PortalApiError) -> HttpResponse:
    if request.path.startswith("/api/"):
        return error_json_response(error)
    context = {"status": error.status_code, "message": str(error.detail)}
    page = render_to_string("portal/request_error.html", context, request=None)
    return HttpResponse(page, status=error.status_code)
