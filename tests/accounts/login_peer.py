"""Another web process, for tests/accounts/test_login_spray.py: it posts admin logins
through the whole stack (form, authenticate, signal receivers, the cache) and prints what
each one got, as JSON.

Run as ``python tests/accounts/login_peer.py '<job>'`` with DJANGO_SETTINGS_MODULE and
DATABASE_URL set; the job is ``{"caches": CACHES, "attempts": [[username, password, ip]]}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

REFUSED_TEXT = "Too many failed logins"


def outcome_of(response: Any) -> str:
    """What a login POST got: ``logged_in``, ``refused`` (locked out) or ``failed``."""
    if response.status_code == 302:
        return "logged_in"
    assert response.status_code == 200, response.status_code
    return "refused" if REFUSED_TEXT in response.content.decode() else "failed"


def admin_login(username: str, password: str, ip: str) -> str:
    from django.test import Client

    response = Client().post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )
    return outcome_of(response)


def main() -> None:
    import django

    django.setup()
    from django.test.utils import override_settings

    job = json.loads(sys.argv[1])
    with override_settings(CACHES=job["caches"]):
        print(json.dumps([admin_login(*attempt) for attempt in job["attempts"]]))


if __name__ == "__main__":
    main()
