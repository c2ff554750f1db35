"""OPTIONS responses that survive free-form serializers (e.g. the readiness report)."""

from __future__ import annotations

from typing import Any

from rest_framework.metadata import SimpleMetadata
from rest_framework.serializers import BaseSerializer


class PortalMetadata(SimpleMetadata):
    def get_serializer_info(self, serializer: BaseSerializer) -> dict[str, Any]:
        # A BaseSerializer without declared fields describes a document, not a form.
        if not hasattr(serializer, "fields"):
            return {}
        return super().get_serializer_info(serializer)
