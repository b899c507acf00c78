"""Argon2id (RFC 9106), one derivation at a time in this process.

Every Argon2id of both apps goes through here: password hashes and their
checks (console logins), private key files (unlocking the organization
key), and the reporter's reply key (the intake without JavaScript).

Why a lock: with the installed ``cryptography`` and OpenSSL, two Argon2id
derivations with more than one lane running at once in one process can
deadlock inside OpenSSL (seen with two reviewers logging in at the same
moment on the console's one threaded worker: both threads hang for ever,
and every later login and unlock waits behind them). The derivation itself
is ``cryptography``'s; this module only keeps two of them from overlapping.
The cost is latency, not safety: eight logins at once take eight times one
derivation (about 0.1 s each at the default 64 MiB, t=3, p=4), and a
derivation's memory is needed once at a time rather than eight times.
"""

from __future__ import annotations

import threading

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

#: Held for every derivation in this process (see the module's docstring).
_LOCK = threading.Lock()


def derive(
    password: bytes, salt: bytes, *, iterations: int, lanes: int, memory_kib: int, length: int = 32
) -> bytes:
    """Argon2id of ``password`` under ``salt``: ``length`` bytes.

    Raises:
        ValueError, TypeError: parameters ``cryptography`` refuses (salt
            under 8 bytes, memory under 8 KiB per lane, …).
    """
    kdf = Argon2id(salt=salt, length=length, iterations=iterations, lanes=lanes, memory_cost=memory_kib)
    with _LOCK:
        return kdf.derive(password)


def derive_phc(password: bytes, salt: bytes, *, iterations: int, lanes: int, memory_kib: int) -> str:
    """A PHC string (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``) of a 32-byte
    Argon2id of ``password``, as stored for a console password."""
    kdf = Argon2id(salt=salt, length=32, iterations=iterations, lanes=lanes, memory_cost=memory_kib)
    with _LOCK:
        return kdf.derive_phc_encoded(password)


def verify_phc(password: bytes, phc: str) -> bool:
    """Whether ``password`` matches the PHC string (False when it does not,
    or when the string is malformed). The parameters come from the string,
    so hashes made with other costs keep verifying."""
    try:
        with _LOCK:
            Argon2id.verify_phc_encoded(password, phc)
    except InvalidKey:
        return False
    return True
