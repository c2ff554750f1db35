"""The sandbox's mutable state, shared by all request threads behind one lock."""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Mapping

from sandbox.config import SandboxConfig
from sandbox.credentials import AccessTokenStore, customer_id
from sandbox.faults import Faults

# The request counters /_sandbox/stats reports, all present even at zero.
STAT_NAMES = ("authenticate_requests", "token_requests", "profile_requests")


class SandboxState:
    """Configuration, current faults, issued access tokens and request counters."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.tokens = AccessTokenStore()
        # Set when the server stops, so slow and endless answers give up promptly.
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._faults = Faults.from_config(config)
        self._counts: Counter[str] = Counter()
        self._users_by_subject = {
            customer_id(username=name, signing_key=config.signing_key): name
            for name in config.users
        }
        # Subjects issued under fault knobs (per-login or PII subjects), forgotten on reset.
        self._issued_subjects: dict[str, str] = {}
        # Opaque session ids of cookie mode and the JWT each stands for, forgotten on reset.
        self._sessions: dict[str, str] = {}

    @property
    def faults(self) -> Faults:
        """The knobs now in force; a request reads them once and keeps that snapshot."""
        with self._lock:
            return self._faults

    def set_faults(self, changes: Mapping[str, object]) -> Faults:
        """Merge knob changes; raises ``KnobError`` and changes nothing when one is bad."""
        with self._lock:
            self._faults = self._faults.merged(changes)
            return self._faults

    def reset(self) -> None:
        """Back to the start-up knobs, zero counters and no issued access tokens."""
        with self._lock:
            self._faults = Faults.from_config(self.config)
            self._counts.clear()
            self._issued_subjects.clear()
            self._sessions.clear()
        self.tokens.clear()

    def count(self, name: str) -> None:
        """Add one to a request counter; the lock keeps it exact under concurrency."""
        with self._lock:
            self._counts[name] += 1

    def stats(self) -> dict[str, int]:
        """A snapshot of the request counters."""
        with self._lock:
            return {name: self._counts[name] for name in STAT_NAMES}

    def remember_subject(self, subject: str, username: str) -> None:
        """Record a subject issued for ``username`` outside the usual derivation."""
        with self._lock:
            self._issued_subjects[subject] = username

    def session_open(self, token: str) -> str:
        """A new random session id standing for ``token`` (opaque session cookies)."""
        session_id = secrets.token_urlsafe(24)
        with self._lock:
            self._sessions[session_id] = token
        return session_id

    def session_token(self, session_id: str) -> str | None:
        """The JWT an opaque session id stands for, if the server issued it."""
        with self._lock:
            return self._sessions.get(session_id)

    def username_for(self, subject: str) -> str | None:
        """The test user a JWT ``sub`` belongs to, if any."""
        with self._lock:
            issued = self._issued_subjects.get(subject)
        return issued or self._users_by_subject.get(subject)

    def first_username(self) -> str:
        """The first configured test user (shared identities and unchecked calls use it)."""
        return next(iter(self.config.users))
