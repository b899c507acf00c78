"""The key schedule of envelope format v1 (docs/envelope.md): how the
content key is wrapped for each recipient (HPKE with X-Wing) and how the
body and attachment keys are derived from it (HKDF-SHA256)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_LABEL = b"tnr-intake/v1/"
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def _wrap_info(envelope_id: str, key_id: str) -> bytes:
    return _LABEL + b"content-key\x00" + bytes.fromhex(envelope_id) + b"\x00" + key_id.encode("ascii")


def _derive(content_key: bytes, envelope_id: str, label: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=bytes.fromhex(envelope_id), info=_LABEL + label
    ).derive(content_key)


def body_key(content_key: bytes, envelope_id: str) -> bytes:
    """AES-256 key of the body: HKDF-SHA256 (RFC 5869), salt = envelope id."""
    return _derive(content_key, envelope_id, b"body")


def attachment_key(content_key: bytes, envelope_id: str, index: int) -> bytes:
    """AES-256 key of attachment ``index`` (0-based): HKDF-SHA256, salt =
    envelope id, info ends with the 32-bit big-endian index."""
    return _derive(content_key, envelope_id, b"attachment" + index.to_bytes(4, "big"))
