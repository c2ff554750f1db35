"""Data model of the integrations app; see each module for its concepts."""

from integrations.models.audit import AuditEvent
from integrations.models.calls import TestCall
from integrations.models.counters import ProbeCounter
from integrations.models.credentials import ApiKey, CustomerAuth, OAuthClient, TestUser
from integrations.models.customers import Customer, Environment
from integrations.models.endpoints import Endpoint
from integrations.models.health import (
    AlertDeliveryAttempt,
    AlertOutbox,
    DispatchTick,
    EndpointHealth,
    HealthTransition,
    HourlyRollup,
    ProbeResult,
)
from integrations.models.readiness import ReadinessReport
from integrations.models.tokens import AccessToken, UserSession

__all__ = [
    "AccessToken",
    "AlertDeliveryAttempt",
    "AlertOutbox",
    "ApiKey",
    "AuditEvent",
    "Customer",
    "CustomerAuth",
    "DispatchTick",
    "Endpoint",
    "EndpointHealth",
    "Environment",
    "HealthTransition",
    "HourlyRollup",
    "OAuthClient",
    "ProbeCounter",
    "ProbeResult",
    "ReadinessReport",
    "TestCall",
    "TestUser",
    "UserSession",
]
