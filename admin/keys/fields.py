"""Fields under the console's data key: what the console stores of an
opened envelope is sealed with AES-256-GCM (NIST SP 800-38D) under the
data key (:mod:`.custody`), a random 96-bit nonce per value, and
associated data that binds the case's envelope id and the field name, so
a value cannot be moved to another case or column."""

from __future__ import annotations

import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import DataKeyError

NONCE_SIZE = 12
#: The console's domain-separation label (the data key's wraps use it too).
LABEL = b"tnr-intake/console/v1/"


def _field_aad(envelope_id: str, field: str) -> bytes:
    return LABEL + b"field\x00" + envelope_id.encode("ascii") + b"\x00" + field.encode("ascii")


def encrypt_field(data_key: bytes, envelope_id: str, field: str, plaintext: bytes) -> bytes:
    """AES-256-GCM under the data key with a random 96-bit nonce; the
    associated data binds the envelope id and field name, so a value cannot
    be moved to another case or column. Returns nonce || ciphertext."""
    nonce = secrets.token_bytes(NONCE_SIZE)
    return nonce + AESGCM(data_key).encrypt(nonce, plaintext, _field_aad(envelope_id, field))


class FieldEncryptor:
    """:func:`encrypt_field` for many values under one data key, as a sync
    seals two or more per envelope: one AES-256-GCM context, and the random
    96-bit nonces read from the operating system's CSPRNG (``os.urandom``)
    ``block`` at a time rather than one system call each. Each nonce is
    a distinct slice of that output, used once; the output is the same
    format as :func:`encrypt_field` (nonce || ciphertext) and opens with
    :func:`decrypt_field`.

    Why blocks: ``os.urandom`` releases the interpreter lock, and while a
    sync's download thread is busy each release can cost the sealing
    thread a wait for the lock (bench/console.py). Not for use from
    several threads at once.

    Args:
        data_key: the 32-byte data key.
        block: nonces drawn per system call (at least 1).
    """

    def __init__(self, data_key: bytes, block: int = 256) -> None:
        self._aead = AESGCM(data_key)
        self._block = max(1, block) * NONCE_SIZE
        self._pool = b""
        self._at = 0

    def encrypt(self, envelope_id: str, field: str, plaintext: bytes) -> bytes:
        """Seal ``plaintext`` as field ``field`` of case ``envelope_id``
        (as :func:`encrypt_field`)."""
        if self._at == len(self._pool):
            self._pool, self._at = os.urandom(self._block), 0
        nonce = self._pool[self._at : self._at + NONCE_SIZE]
        self._at += NONCE_SIZE
        return nonce + self._aead.encrypt(nonce, plaintext, _field_aad(envelope_id, field))


def decrypt_field(data_key: bytes, envelope_id: str, field: str, sealed: bytes) -> bytes:
    """Reverse of :func:`encrypt_field`.

    Raises:
        DataKeyError: the value does not authenticate (changed, moved, or
            sealed under another data key).
    """
    try:
        return AESGCM(data_key).decrypt(
            sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], _field_aad(envelope_id, field)
        )
    except InvalidTag as exc:
        raise DataKeyError(f"stored field {field!r} of case {envelope_id} does not authenticate") from exc
