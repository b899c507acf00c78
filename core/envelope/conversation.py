"""The conversation key: what binds a reporter's follow-ups and the
coalition's replies to the report (envelope format v2).

Everything here is derived from the receipt key, the Argon2id output of
:func:`core.envelope.replykey.reply_seed` (the same 32 bytes that make
the reply key pair), with HKDF-SHA256 (RFC 5869) under labels of its own, so
that no value derived here tells anything about another::

    receipt_key = Argon2id(receipt digits)                  (replykey.py)
    auth_key    = HKDF(receipt_key, salt = "", info = "tnr-intake/v2/auth-key", 32)
    lookup      = HKDF(receipt_key, salt = "", info = "tnr-intake/v2/lookup", 32)

The **auth key** travels only inside a sealed report (the body's ``auth``
member, ``{"key": …}``): the intake, which holds public keys only, never
learns it. Each follow-up carries ``HMAC-SHA256(auth_key, …)`` over the
report's and its own envelope id; each reply carries one over the report's
and its own envelope id and the SHA-256 of its text and sender. The console
checks the first with the auth key it opened from the report, the reporter
(browser, or the intake in memory on the no-JavaScript path) the second.
Neither needs a new primitive: HMAC-SHA256 from ``cryptography``, WebCrypto
in the browser (``js/replykey.js``).

The **lookup** value is what the browser sends the intake instead of the
receipt (docs/threat-model.md, "The receipt"): the intake keeps only its
keyed hash (:func:`core.receipts.lookup_hash`).

Specified in docs/envelope.md, section 14; known-answer vectors in
``tests/vectors/conversation-v2.json``.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import EnvelopeError

AUTH_KEY_INFO = b"tnr-intake/v2/auth-key"
LOOKUP_INFO = b"tnr-intake/v2/lookup"
FOLLOWUP_LABEL = b"tnr-intake/v2/followup\x00"
REPLY_LABEL = b"tnr-intake/v2/reply\x00"


def _hkdf(receipt_key: bytes, info: bytes) -> bytes:
    if len(receipt_key) != 32:
        raise EnvelopeError("a receipt key is 32 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=info).derive(receipt_key)


def auth_key(receipt_key: bytes) -> bytes:
    """The conversation's 32-byte authentication key (sealed inside a v2
    report). ``receipt_key``: the 32-byte Argon2id output of the receipt.

    Raises:
        EnvelopeError: ``receipt_key`` is not 32 bytes.
    """
    return _hkdf(receipt_key, AUTH_KEY_INFO)


def lookup_value(receipt_key: bytes) -> str:
    """What the intake may know of a receipt: 32 derived bytes as 64
    lowercase hex digits. Raises as :func:`auth_key`."""
    return _hkdf(receipt_key, LOOKUP_INFO).hex()


def _id_bytes(envelope_id: str) -> bytes:
    try:
        raw = bytes.fromhex(envelope_id)
    except (TypeError, ValueError) as exc:
        raise EnvelopeError("an envelope id is 32 hex digits") from exc
    if len(raw) != 16 or raw.hex() != envelope_id:
        raise EnvelopeError("an envelope id is 32 lowercase hex digits")
    return raw


def followup_proof(key: bytes, report_id: str, followup_id: str) -> bytes:
    """``HMAC-SHA256(auth_key, "tnr-intake/v2/followup" 0x00 || report id
    (16 raw bytes) || follow-up id (16 raw bytes))``: 32 bytes.

    Raises:
        EnvelopeError: a key that is not 32 bytes, or a malformed id.
    """
    if len(key) != 32:
        raise EnvelopeError("an auth key is 32 bytes")
    message = FOLLOWUP_LABEL + _id_bytes(report_id) + _id_bytes(followup_id)
    return hmac.new(key, message, hashlib.sha256).digest()


def reply_proof(key: bytes, report_id: str, reply_id: str, text: str, sender: str) -> bytes:
    """``HMAC-SHA256(auth_key, "tnr-intake/v2/reply" 0x00 || report id (16)
    || reply id (16) || SHA-256(UTF-8 text) || SHA-256(UTF-8 sender))``.

    Raises:
        EnvelopeError: a bad key or id, or text that is not valid Unicode.
    """
    if len(key) != 32:
        raise EnvelopeError("an auth key is 32 bytes")
    try:
        digests = (
            hashlib.sha256(text.encode("utf-8")).digest() + hashlib.sha256(sender.encode("utf-8")).digest()
        )
    except UnicodeEncodeError as exc:
        raise EnvelopeError("reply text is not valid Unicode") from exc
    message = REPLY_LABEL + _id_bytes(report_id) + _id_bytes(reply_id) + digests
    return hmac.new(key, message, hashlib.sha256).digest()


def verify(expected: bytes, proof: bytes | None) -> bool:
    """Constant-time comparison of a computed proof with a received one."""
    return proof is not None and hmac.compare_digest(expected, proof)
