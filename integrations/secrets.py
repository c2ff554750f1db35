"""The in-memory form of a stored secret.

A ``Secret`` keeps the ciphertext and decrypts only when ``reveal()`` is called,
so a model instance that is printed, logged, pickled into an error report or
rendered in a template shows a mask, never the value.
"""

from __future__ import annotations

from integrations import crypto

MASK = "••••••"


class Secret:
    """A secret value that never shows itself unless asked with reveal()."""

    __slots__ = ("_ciphertext", "_plaintext")

    def __init__(self, *, plaintext: str | None = None, ciphertext: str | None = None) -> None:
        if (plaintext is None) == (ciphertext is None):
            raise ValueError("give exactly one of plaintext or ciphertext")
        self._plaintext = plaintext
        self._ciphertext = ciphertext

    def reveal(self) -> str:
        if self._plaintext is None:
            assert self._ciphertext is not None
            self._plaintext = crypto.decrypt(self._ciphertext)
        return self._plaintext

    def ciphertext(self) -> str:
        """The stored form; an unchanged secret keeps its ciphertext as loaded."""
        if self._ciphertext is None:
            assert self._plaintext is not None
            self._ciphertext = crypto.encrypt(self._plaintext)
        return self._ciphertext

    def fingerprint(self) -> str:
        return crypto.fingerprint(self.reveal())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self.reveal() == other.reveal()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __bool__(self) -> bool:
        return True

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"<Secret {MASK}>"
