"""Receivers that count failed logins and forget them after a successful one."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.lockouts import lockouts_record
from accounts.throttle import client_ip, login_failure_record, login_failures_clear


@receiver(user_login_failed)
def count_failed_login(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    username, ip = str(credentials.get("username", "")), client_ip(request)
    locked = login_failure_record(username=username, ip=ip)
    lockouts_record(scopes=locked, label=username, ip=ip, request=request)


@receiver(user_logged_in)
def forget_failed_logins(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    login_failures_clear(username=user.get_username(), ip=client_ip(request))
