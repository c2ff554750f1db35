"""Every enumeration of the integrations app, in one place."""

from django.db import models


class EnvironmentKind(models.TextChoices):
    UAT = "uat", "UAT"
    PRODUCTION = "production", "Production"


class ClientAuthStyle(models.TextChoices):
    # The guide's style: grant_type in the query, client_id/client_secret in the form body.
    FORM_BODY = "form_body", "Form body (integration guide)"
    # RFC 6749 §2.3.1 preferred style: HTTP Basic, grant_type in the body.
    HTTP_BASIC = "http_basic", "HTTP Basic (RFC 6749)"


class CustomerAuthMode(models.TextChoices):
    TOKEN = "token", "Token (JWT in the response body)"
    COOKIE = "cookie", "Cookie (signed session cookie)"


class HttpMethod(models.TextChoices):
    GET = "GET", "GET"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"


class IdentifierLocation(models.TextChoices):
    NONE = "none", "Not sent"
    HEADER = "header", "HTTP header"
    BODY = "body", "JSON body field"
    COOKIE = "cookie", "Cookie"


class TokenKind(models.TextChoices):
    JWT = "jwt", "JWT"
    COOKIE = "cookie", "Session cookie"


class RefreshOutcome(models.TextChoices):
    NEVER = "never", "Never fetched"
    OK = "ok", "OK"
    FAILED = "failed", "Failed"


class HealthState(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    HEALTHY = "healthy", "Healthy"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"
    BLOCKED_BY_AUTH = "blocked_by_auth", "Blocked by auth"


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    CHANGE = "change", "Changed"
    DELETE = "delete", "Deleted"
    TEST_CALL = "test_call", "Ran a test call"
    ROTATE_KEYS = "rotate_keys", "Rotated encryption keys"
    LOGIN = "login", "Logged in"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOGOUT = "logout", "Logged out"
    REFRESH_TOKEN = "refresh_token", "Refreshed a token"
    READINESS = "readiness", "Ran a readiness report"


class ErrorClass(models.TextChoices):
    """Why a probe failed, coarse enough to count per hour."""

    DNS = "dns", "DNS"
    CONNECT = "connect", "Connect"
    TLS = "tls", "TLS"
    TIMEOUT = "timeout", "Timeout"
    BLOCKED = "blocked", "Blocked destination"
    TOO_LARGE = "too_large", "Response too large"
    MALFORMED = "malformed", "Malformed response"
    AUTH = "auth", "Auth step"
    HTTP_4XX = "http_4xx", "HTTP 4xx"
    HTTP_5XX = "http_5xx", "HTTP 5xx"
    ASSERTION = "assertion", "Assertion"
    OTHER = "other", "Other"


class MissedReason(models.TextChoices):
    """Why a due probe slot was never probed: the portal's fault, not the customer's."""

    WORKER_LOST = "worker_lost", "Worker lost"
    BROKER_DOWN = "broker_down", "Broker down"
    OVERDUE = "overdue", "Overdue"


class AlertChannel(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    EMAIL = "email", "E-mail"


class AlertStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class AlertAttemptOutcome(models.TextChoices):
    """How one delivery attempt of an alert ended; in flight until its worker records it."""

    IN_FLIGHT = "in_flight", "In flight"
    OK = "ok", "Delivered"
    FAILED = "failed", "Failed"
    TIMEOUT = "timeout", "Timed out"
    # The worker died mid-send (found when the row's lease ran out): the receiver may
    # or may not have the alert, so the retry carries the same idempotency key.
    LOST = "lost", "Worker lost"


class ReadinessVerdict(models.TextChoices):
    """The outcome of one readiness check on one target."""

    PASS = "pass", "Pass"
    WARN = "warn", "Warning"
    FAIL = "fail", "Fail"
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    # The check itself crashed: the customer's API may be fine, we could not tell.
    ERROR = "error", "Error"
