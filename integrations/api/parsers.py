"""The API's JSON body parser: DRF's, refusing structures nested past JSON_MAX_DEPTH.

A body of 100,000 ``[`` made the decoder raise RecursionError, which left as a 500;
a body nested just under the interpreter's limit broke the code that walks it later.
Both are now a 400 ``json_too_deep`` before any view sees the data.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions, parsers

from integrations.json_limits import JsonTooDeep, json_check_depth


class JsonTooDeepError(exceptions.ParseError):
    """A 400 in the API's error shape (rest_framework.views imports this module first,
    so it cannot use integrations.api.errors, which imports rest_framework.views)."""

    default_code = "json_too_deep"

    def __init__(self, error: JsonTooDeep) -> None:
        super().__init__(str(error), code=error.code)
        self.details = {"max_depth": error.max_depth}


class PortalJSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return json_check_depth(super().parse(stream, media_type, parser_context))
        except RecursionError:
            raise JsonTooDeepError(JsonTooDeep()) from None
        except JsonTooDeep as error:
            raise JsonTooDeepError(error) from None
