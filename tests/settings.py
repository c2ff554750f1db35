"""Test settings: the real settings module with fixed test keys.

DATABASE_URL is taken from the environment (CI points it at PostgreSQL); without
it the tests run on SQLite.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
# Two fixed Fernet keys for tests; the first encrypts.
os.environ.setdefault(
    "PORTAL_ENCRYPTION_KEYS",
    "u7kn9Z_LNWvmMu0HKK3S4N2NK8bt29Q4dMigvt8_V1s=",
)
os.environ.setdefault("PORTAL_OUTBOUND_ALLOWLIST", "")
os.environ.setdefault("DEBUG", "false")
# The test client and the live server speak plain http.
os.environ.setdefault("PORTAL_LOCAL_HTTP", "true")
os.environ.setdefault(
    "PORTAL_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test")
)

from portal.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
ALLOWED_HOSTS = ["*"]
STATIC_ROOT = VAR_DIR / "static"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
