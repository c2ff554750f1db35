"""API serializers. Secrets are write-only; test calls are already redacted."""

from integrations.api.serializers.activity import (
    AuditEventSerializer,
    EndpointHealthSerializer,
    HealthTransitionSerializer,
    ProbeResultSerializer,
    TestCallRunSerializer,
    TestCallSerializer,
    TokenRefreshSerializer,
)
from integrations.api.serializers.config import (
    ApiKeySerializer,
    CustomerAuthSerializer,
    CustomerSerializer,
    EndpointSerializer,
    EnvironmentSerializer,
    OAuthClientSerializer,
    TestUserSerializer,
)

__all__ = [
    "ApiKeySerializer",
    "AuditEventSerializer",
    "CustomerAuthSerializer",
    "CustomerSerializer",
    "EndpointHealthSerializer",
    "EndpointSerializer",
    "EnvironmentSerializer",
    "HealthTransitionSerializer",
    "OAuthClientSerializer",
    "ProbeResultSerializer",
    "TestCallRunSerializer",
    "TestCallSerializer",
    "TestUserSerializer",
    "TokenRefreshSerializer",
]
