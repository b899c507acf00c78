"""The in-memory keyring of the console: the unlocked private keys and the
data key, held by this process only (never in the session cookie, the
database or a file), locked again after a time without use. Unlocking is
:func:`.custody.unlock`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from core.envelope import RecipientPrivateKey

from ..errors import KeyLockedError


class UnlockedKeyring:
    """The unlocked private keys and data key of this process.

    Locks itself after ``idle_timeout`` seconds without use (0: never).
    Each gunicorn worker has its own keyring: run the console with one worker,
    or unlock each. Locking drops the references; Python cannot promise that
    the bytes are overwritten in memory.
    """

    def __init__(self, idle_timeout: float = 900, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.RLock()
        self._keys: dict[str, RecipientPrivateKey] = {}
        self._data_key: bytes | None = None
        self._idle_timeout = idle_timeout
        self._clock = clock
        self._last_used = clock()

    def _expired(self) -> bool:
        return bool(self._idle_timeout) and self._clock() - self._last_used > self._idle_timeout

    @property
    def unlocked(self) -> bool:
        """Whether keys are loaded (and not idle-locked). Does not count as use."""
        with self._lock:
            if self._data_key is not None and self._expired():
                self.lock()
            return self._data_key is not None

    def key_ids(self) -> list[str]:
        """Key ids of the unlocked private keys (empty when locked)."""
        with self._lock:
            return sorted(self._keys) if self.unlocked else []

    def load(self, keys: Iterable[RecipientPrivateKey], data_key: bytes) -> None:
        """Hold ``keys`` and ``data_key`` (replacing what was held)."""
        with self._lock:
            self._keys = {k.key_id: k for k in keys}
            self._data_key = data_key
            self._last_used = self._clock()

    def lock(self) -> None:
        """Forget every key."""
        with self._lock:
            self._keys = {}
            self._data_key = None

    def private_keys(self) -> list[RecipientPrivateKey]:
        """The unlocked private keys.

        Raises:
            KeyLockedError: locked.
        """
        with self._lock:
            if not self.unlocked:
                raise KeyLockedError("the organization key is locked")
            self._last_used = self._clock()
            return list(self._keys.values())

    def data_key(self) -> bytes:
        """The data key.

        Raises:
            KeyLockedError: locked.
        """
        with self._lock:
            if not self.unlocked or self._data_key is None:
                raise KeyLockedError("the organization key is locked")
            self._last_used = self._clock()
            return self._data_key
