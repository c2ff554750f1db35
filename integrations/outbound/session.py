"""Per-thread requests sessions whose pools connect to pinned IPs.

The URL a request carries holds the checked IP; the ``Host`` header holds the name.
The adapter passes that name to urllib3 as ``server_hostname``, used for SNI and for
verifying the certificate, so TLS is checked against the name the customer gave us
while the socket goes to the address the policy approved.
"""

from __future__ import annotations

import logging
import os
import threading
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from integrations.outbound.deadline import register

# urllib3 logs request lines (DEBUG) and unparsable response heads (WARNING) with the
# whole URL, query and all; customers' queries can carry API keys, and LOG_LEVEL may be
# DEBUG. Failures still reach the caller as typed errors with safe messages.
logging.getLogger("urllib3").setLevel(logging.ERROR)


class _WatchedHTTPConnection(HTTPConnection):
    """Registers itself with the running call's deadline before any blocking I/O."""

    def connect(self) -> None:
        register(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        register(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        register(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        register(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _server_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0]
    return host_header.rpartition(":")[0] if ":" in host_header else host_header


class PinnedAdapter(HTTPAdapter):
    """Connects to the IP in the URL while speaking TLS to the name in ``Host``.

    urllib3 keys pools on ``server_hostname`` too, so a pooled connection made for
    one host is never handed to another host that shares its IP.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        pool_kwargs["server_hostname"] = _server_name(str(request.headers["Host"]))
        return host_params, pool_kwargs


_local = threading.local()


def _new_session() -> requests.Session:
    session = requests.Session()
    # No proxies or .netrc credentials picked up from the worker's environment.
    session.trust_env = False
    # The session outlives one call; a shared cookie jar would carry one customer's
    # cookies into the next call. Cookie sessions are handled explicitly by callers.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = PinnedAdapter(pool_connections=64, pool_maxsize=2, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def session_for_thread() -> requests.Session:
    """This thread's session: pooled connections are reused across its calls."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = _new_session()
    return session


def _forget_sessions_after_fork() -> None:
    # Pooled sockets inherited from the parent would be shared by two processes.
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_sessions_after_fork)
