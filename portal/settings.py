"""Settings for the integration portal, all read from the environment.

With DEBUG=true and nothing else set, the portal runs on its embedded defaults:
SQLite, Celery's filesystem broker and generated keys under var/. Set DATABASE_URL and
CELERY_BROKER_URL for PostgreSQL and Redis. Every variable is listed in .env.example.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker secrets)."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: str = "false") -> bool:
    value = env(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = env(name, str(default))
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def generated_secret(path: Path, make: Callable[[], str]) -> str:
    """Return the secret stored at path, creating it once (embedded mode only)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    # Written with owner-only permissions: these files are the embedded keys.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


# Off unless set: a deployment whose variables failed to arrive fails fast below instead
# of serving debug pages. `make run`, portal.devrun and a bare `manage.py` on a fresh
# clone (see manage.py) set DEBUG=true for the embedded defaults.
DEBUG = envbool("DEBUG")
VAR_DIR = Path(env("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env("SECRET_KEY")
ENCRYPTION_KEYS = envlist("PORTAL_ENCRYPTION_KEYS")
if DEBUG:
    # Embedded mode: keys are generated once into var/ and reused across restarts.
    SECRET_KEY = SECRET_KEY or generated_secret(
        VAR_DIR / "secret_key", lambda: secrets.token_urlsafe(50)
    )
    ENCRYPTION_KEYS = ENCRYPTION_KEYS or [
        generated_secret(VAR_DIR / "encryption_key", lambda: Fernet.generate_key().decode())
    ]
# How to get back to the embedded defaults, for whoever runs manage.py by hand.
_EMBEDDED_HINT = (
    "; on a developer machine set DEBUG=true (or run manage.py with no deployment variable "
    "set) for the embedded defaults, with keys generated into var/"
)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off" + _EMBEDDED_HINT)
if not ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "PORTAL_ENCRYPTION_KEYS is required when DEBUG is off "
        "(comma-separated Fernet keys; the first one encrypts)" + _EMBEDDED_HINT
    )

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "integrations",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a body (CSRF reads forms): oversized bodies get a 413.
    "portal.middleware.BadInputMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Request bodies (JSON, forms, uploads) declared larger than this are refused with 413
# before they are read; file parts above FILE_UPLOAD_MAX_MEMORY_SIZE spill to disk.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("PORTAL_MAX_REQUEST_BYTES", 5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = min(DATA_UPLOAD_MAX_MEMORY_SIZE, 2_621_440)

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.portal_role",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60),
        # A kept connection is checked before its first use in each request or task, so
        # a database restart costs a reconnect, not a failed request or task.
        conn_health_checks=envbool("DATABASE_CONN_HEALTH_CHECKS", "true"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # IMMEDIATE transactions take SQLite's write lock at BEGIN, so an atomic block
    # serialises with other writers: the SQLite stand-in for a row lock.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- HTTPS ----------------------------------------------------------------
# Off DEBUG the portal is served over HTTPS only: secure cookies, a redirect from http,
# and HSTS. PORTAL_LOCAL_HTTP=true (docker-compose.yml sets it for a machine's own
# http://127.0.0.1:8000) turns the three defaults off; each can still be set on its own.
LOCAL_HTTP = DEBUG or envbool("PORTAL_LOCAL_HTTP")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", "false" if LOCAL_HTTP else "true")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "false" if LOCAL_HTTP else "true")
# Load balancers check liveness over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if LOCAL_HTTP else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "true")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD")
# Behind a proxy that terminates TLS, the header it sets on https requests, e.g.
# X-Forwarded-Proto (the proxy must overwrite it from clients); else the redirect loops.
_proxy_header = env("SECURE_PROXY_SSL_HEADER")
if _proxy_header:
    _meta_name = "HTTP_" + _proxy_header.upper().replace("-", "_")
    SECURE_PROXY_SSL_HEADER = (_meta_name, "https")

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    # Longer than any task's hard time limit, so a task is redelivered only
    # when its worker really died.
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600),
}
if CELERY_BROKER_URL.startswith("filesystem"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        data_folder_in=str(_broker_dir / "queue"),
        data_folder_out=str(_broker_dir / "queue"),
        processed_folder=str(_broker_dir / "processed"),
        control_folder=str(_broker_dir / "control"),
        store_processed=False,
    )
# Tasks return nothing worth keeping; no result backend means nothing to leak there.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER")

# --- Outbound calls to customer APIs -------------------------------------
# host:port pairs allowed even though they resolve to non-public addresses
# (the bundled sandbox in dev, demo and tests). Empty in production.
OUTBOUND_ALLOWLIST = envlist(
    "PORTAL_OUTBOUND_ALLOWLIST", "127.0.0.1:8001,localhost:8001" if DEBUG else ""
)
OUTBOUND_MAX_RESPONSE_BYTES = envint("PORTAL_OUTBOUND_MAX_RESPONSE_BYTES", 1024 * 1024)
OUTBOUND_CONNECT_TIMEOUT_MS = envint("PORTAL_OUTBOUND_CONNECT_TIMEOUT_MS", 3000)
OUTBOUND_DEADLINE_MS = envint("PORTAL_OUTBOUND_DEADLINE_MS", 10000)

# --- Sandbox customer API (dev, demo and tests only) -----------------------
SANDBOX_URL = env("PORTAL_SANDBOX_URL", "http://127.0.0.1:8001")

# --- Demo data ------------------------------------------------------------
DEMO_ADMIN_USERNAME = env("PORTAL_DEMO_ADMIN_USERNAME", "admin")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "integrations.api.schema.PortalAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "integrations.api.pagination.PortalPagination",
    "PAGE_SIZE": 50,
    # Token first: its challenge makes an unauthenticated request a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.RolePermission"],
    "DEFAULT_PARSER_CLASSES": ["integrations.api.parsers.PortalJSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "EXCEPTION_HANDLER": "integrations.api.errors.api_exception_handler",
    "DEFAULT_METADATA_CLASS": "integrations.api.metadata.PortalMetadata",
}
API_MAX_PAGE_SIZE = envint("PORTAL_API_MAX_PAGE_SIZE", 500)

SPECTACULAR_SETTINGS = {
    "TITLE": "Integration portal API",
    "DESCRIPTION": (
        "Configure customers' environments, credentials and endpoints; run test calls and "
        "probes; read health and history. Authenticate with an API token "
        "(`Authorization: Token <token>`) or a browser session. Every error has the shape "
        '`{"error": {"code", "message", "details"}}`. Secrets are write-only.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["accounts.permissions.RolePermission"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI from our own static files (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "HealthStateEnum": "integrations.choices.HealthState",
        "ErrorClassEnum": "integrations.choices.ErrorClass",
    },
}

# --- Caches and login throttling ---------------------------------------------
# The login throttle counts failures in the default cache. Without CACHE_URL that is
# Django's in-memory cache (locmem), one per process: each process counts alone, so every
# limit below is multiplied by the number of web processes. Right for the embedded
# default's single runserver process; wherever more than one web process serves (the
# Dockerfile's gunicorn runs 3), set CACHE_URL to Redis, as docker-compose.yml does.
# Not a FileBasedCache in var/: shared, but its incr is an unlocked read-then-write that
# also resets the expiry, and it culls random entries past MAX_ENTRIES (a spray of
# names would wipe the counts).
CACHE_URL = env("CACHE_URL")
if CACHE_URL:
    if not CACHE_URL.startswith(("redis://", "rediss://")):
        raise ImproperlyConfigured("CACHE_URL must be a redis:// or rediss:// URL")
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
# Failed logins, the admin's, /accounts/login/'s and API tokens' together, are counted in
# a window from each count's first failure; a count at its limit refuses logins (the right
# password too) until its window ends. Invalid API tokens then get 429; valid ones still
# authenticate, except a token refused by its own prefix's pair count.
LOGIN_FAILURE_WINDOW_S = envint("PORTAL_LOGIN_FAILURE_WINDOW_MINUTES", 15) * 60
# Per username and address (for a token: its prefix and address).
LOGIN_MAX_FAILURES = envint("PORTAL_LOGIN_MAX_FAILURES", 5)
# Per address (an IPv6 /64), whatever the usernames or tokens: one client spraying names.
LOGIN_ADDRESS_MAX_FAILURES = envint("PORTAL_LOGIN_ADDRESS_MAX_FAILURES", 20)
# Per username, from any address: one account guessed on from many clients.
LOGIN_USERNAME_MAX_FAILURES = envint("PORTAL_LOGIN_USERNAME_MAX_FAILURES", 10)
# Everyone's together: a spray from many addresses. 0 turns one of these three limits off.
LOGIN_GLOBAL_MAX_FAILURES = envint("PORTAL_LOGIN_GLOBAL_MAX_FAILURES", 500)
if LOGIN_FAILURE_WINDOW_S < 60 or LOGIN_MAX_FAILURES < 1:
    raise ImproperlyConfigured(
        "PORTAL_LOGIN_FAILURE_WINDOW_MINUTES and PORTAL_LOGIN_MAX_FAILURES must be at least 1"
    )
for _name, _limit in [
    ("PORTAL_LOGIN_ADDRESS_MAX_FAILURES", LOGIN_ADDRESS_MAX_FAILURES),
    ("PORTAL_LOGIN_USERNAME_MAX_FAILURES", LOGIN_USERNAME_MAX_FAILURES),
    ("PORTAL_LOGIN_GLOBAL_MAX_FAILURES", LOGIN_GLOBAL_MAX_FAILURES),
]:
    if _limit < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 (no limit) or more, not {_limit}")
# Reverse proxies (addresses or CIDRs) whose X-Forwarded-For names the client; from any
# other REMOTE_ADDR the header is ignored, so a client cannot choose its own address.
PORTAL_TRUSTED_PROXIES = envlist("PORTAL_TRUSTED_PROXIES")
for _proxy in PORTAL_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"PORTAL_TRUSTED_PROXIES: {_proxy!r} is not an address or CIDR network"
        ) from None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Token broker -----------------------------------------------------------
# A cached token is refreshed at the later of (expiry - margin) and (ratio x lifetime),
# and never served past its expiry.
TOKEN_REFRESH_MARGIN_S = envint("PORTAL_TOKEN_REFRESH_MARGIN_S", 60)
TOKEN_REFRESH_RATIO = float(env("PORTAL_TOKEN_REFRESH_RATIO", "0.8"))
# issued_at further than this from our clock is treated as the customer's clock skew.
TOKEN_MAX_CLOCK_SKEW_S = envint("PORTAL_TOKEN_MAX_CLOCK_SKEW_S", 300)
# Lifetime assumed when a token response carries no expires_in.
TOKEN_DEFAULT_LIFETIME_S = envint("PORTAL_TOKEN_DEFAULT_LIFETIME_S", 300)
# A failed token fetch or login is not repeated by any caller in any process for a
# cool-down: BASE s after one failure, doubling per consecutive failure up to MAX, then
# varied by up to +/- JITTER (a fraction), so credentials that failed together retry apart.
TOKEN_FAILURE_COOLDOWN_S = float(env("PORTAL_TOKEN_FAILURE_COOLDOWN_S", "5"))
TOKEN_FAILURE_COOLDOWN_MAX_S = float(env("PORTAL_TOKEN_FAILURE_COOLDOWN_MAX_S", "300"))
TOKEN_FAILURE_JITTER = float(env("PORTAL_TOKEN_FAILURE_JITTER", "0.2"))
if not 0 < TOKEN_FAILURE_COOLDOWN_S <= TOKEN_FAILURE_COOLDOWN_MAX_S:
    raise ImproperlyConfigured(
        "PORTAL_TOKEN_FAILURE_COOLDOWN_S must be above 0 and at most "
        "PORTAL_TOKEN_FAILURE_COOLDOWN_MAX_S"
    )
if not 0 <= TOKEN_FAILURE_JITTER < 1:
    raise ImproperlyConfigured("PORTAL_TOKEN_FAILURE_JITTER must be from 0 up to (not incl.) 1")

# --- Probes, health and alerts -------------------------------------------
PROBE_DISPATCH_EVERY_S = envint("PORTAL_PROBE_DISPATCH_EVERY_S", 5)
PROBE_BATCH_SIZE = envint("PORTAL_PROBE_BATCH_SIZE", 100)
PROBE_DISPATCH_LIMIT = envint("PORTAL_PROBE_DISPATCH_LIMIT", 20000)
# A claimed endpoint whose batch has not recorded by then is claimed again (worker died).
# A running batch renews its claims every third of the lease, so a long batch keeps them.
PROBE_CLAIM_LEASE_S = envint("PORTAL_PROBE_CLAIM_LEASE_S", 30)
if PROBE_CLAIM_LEASE_S < 3:
    raise ImproperlyConfigured("PORTAL_PROBE_CLAIM_LEASE_S must be at least 3 seconds")
# An endpoint found this many intervals behind its schedule (a lost worker, a broker
# outage) is probed at its latest due slot; the older slots are recorded as missed.
PROBE_MISSED_AFTER_INTERVALS = envint("PORTAL_PROBE_MISSED_AFTER_INTERVALS", 1)
if PROBE_MISSED_AFTER_INTERVALS < 1:
    raise ImproperlyConfigured("PORTAL_PROBE_MISSED_AFTER_INTERVALS must be at least 1")
# Missed slots stored one row each per endpoint and tick; older ones are only counted.
PROBE_MISSED_MAX_ROWS = envint("PORTAL_PROBE_MISSED_MAX_ROWS", 1000)
# A batch's database work (loading it, recording it) that loses its connection is retried
# on a fresh one this many times in all, waiting DELAY, 2 x DELAY, ... between attempts;
# a batch still unrecorded then gives its claims back at once instead of at the lease.
PROBE_DB_ATTEMPTS = envint("PORTAL_PROBE_DB_ATTEMPTS", 3)
PROBE_DB_RETRY_DELAY_S = float(env("PORTAL_PROBE_DB_RETRY_DELAY_S", "1.5"))
PROBE_THREADS = envint("PORTAL_PROBE_THREADS", 32)
# "aiohttp" sends a batch's probes from one event loop; "threads" uses a thread pool.
PROBE_CLIENT = env("PORTAL_PROBE_CLIENT", "aiohttp")
PROBE_ASYNC_CONCURRENCY = envint("PORTAL_PROBE_ASYNC_CONCURRENCY", 256)
PROBE_RESULT_RETENTION_DAYS = envint("PORTAL_PROBE_RESULT_RETENTION_DAYS", 14)
TOKEN_REFRESH_EVERY_S = envint("PORTAL_TOKEN_REFRESH_EVERY_S", 15)
TOKEN_REFRESH_JITTER_S = envint("PORTAL_TOKEN_REFRESH_JITTER_S", 30)
TOKEN_REFRESH_BACKOFF_MAX_S = envint("PORTAL_TOKEN_REFRESH_BACKOFF_MAX_S", 900)
# A credential is shown as failing after this many refresh failures in a row.
TOKEN_FAILING_AFTER = envint("PORTAL_TOKEN_FAILING_AFTER", 3)
ALERT_WEBHOOK_URL = env("PORTAL_ALERT_WEBHOOK_URL")
ALERT_EMAILS = envlist("PORTAL_ALERT_EMAILS")
ALERT_DELIVER_EVERY_S = envint("PORTAL_ALERT_DELIVER_EVERY_S", 10)
# One alert send (webhook or e-mail) gives up after this; a claimed alert is not sent by
# another worker for the lease, so the lease must outlast a send that may be in flight.
ALERT_SEND_TIMEOUT_S = envint("PORTAL_ALERT_SEND_TIMEOUT_S", 10)
ALERT_CLAIM_LEASE_S = envint("PORTAL_ALERT_CLAIM_LEASE_S", 60)
if ALERT_CLAIM_LEASE_S <= ALERT_SEND_TIMEOUT_S:
    raise ImproperlyConfigured(
        "PORTAL_ALERT_CLAIM_LEASE_S must be longer than PORTAL_ALERT_SEND_TIMEOUT_S, "
        "or a second worker may send an alert whose first send is still in flight"
    )
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "portal@localhost")
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))

# Hard time limits sit below the broker's visibility timeout, so a message is only
# redelivered when its worker is gone.
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-probes": {
        "task": "integrations.tasks.probes.probe_dispatch_task",
        "schedule": float(PROBE_DISPATCH_EVERY_S),
    },
    "refresh-due-tokens": {
        "task": "integrations.tasks.tokens.tokens_refresh_due_task",
        "schedule": float(TOKEN_REFRESH_EVERY_S),
    },
    "deliver-alerts": {
        "task": "integrations.tasks.alerts.alerts_deliver_task",
        "schedule": float(ALERT_DELIVER_EVERY_S),
    },
    "reconcile-rollups": {
        "task": "integrations.tasks.maintenance.rollups_reconcile_task",
        "schedule": 600.0,
    },
    "readiness-reports": {
        "task": "integrations.tasks.readiness.readiness_run_due_task",
        "schedule": float(envint("PORTAL_READINESS_EVERY_S", 86400)),
    },
    "prune-probe-results": {
        "task": "integrations.tasks.maintenance.probe_results_prune_task",
        "schedule": 3600.0,
    },
}

# --- Readiness report -------------------------------------------------------
# Token lifetimes outside these bounds are a warning: too long to be safe, too short to use.
READINESS_MAX_TOKEN_LIFETIME_S = envint("PORTAL_READINESS_MAX_TOKEN_LIFETIME_S", 24 * 3600)
READINESS_MIN_TOKEN_LIFETIME_S = envint("PORTAL_READINESS_MIN_TOKEN_LIFETIME_S", 300)
# Calls per step when measuring latency against the environment's budget.
READINESS_LATENCY_SAMPLES = envint("PORTAL_READINESS_LATENCY_SAMPLES", 3)
# CA bundle the TLS check trusts; empty means the system's trust store.
READINESS_TLS_CA_BUNDLE = env("PORTAL_READINESS_TLS_CA_BUNDLE")

# --- Dashboards, badges and metrics ---------------------------------------
# Seconds between the dashboards' live refreshes.
PORTAL_DASHBOARD_REFRESH_S = envint("PORTAL_DASHBOARD_REFRESH_S", 5)
# Status badges without login (for embedding); off: a session or API token is needed.
PORTAL_PUBLIC_BADGES = envbool("PORTAL_PUBLIC_BADGES")
# /metrics accepts "Authorization: Bearer <this>", an API token, or a listed address.
PORTAL_METRICS_TOKEN = env("PORTAL_METRICS_TOKEN")
PORTAL_METRICS_ALLOW_IPS = envlist("PORTAL_METRICS_ALLOW_IPS")
for _cidr in PORTAL_METRICS_ALLOW_IPS:
    try:
        ipaddress.ip_network(_cidr, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"PORTAL_METRICS_ALLOW_IPS: {_cidr!r} is not an address or CIDR network"
        ) from None
