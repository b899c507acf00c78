"""Sealing an envelope of format v1 or v2 (the construction is described
in :mod:`.format`): a fresh content key wrapped for every recipient, the
padded body under its body key, each attachment as a STREAM
(:mod:`.chunks`)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .chunks import chunks_of, seal_attachment_chunks
from .errors import EnvelopeError
from .format import (
    _HEX32,
    AUTH_MEMBERS,
    AUTH_SIZE,
    CONTENT_KEY_SIZE,
    DEFAULT_CHUNK_SIZE,
    MAX_ATTACHMENTS,
    MAX_CHUNK_SIZE,
    MAX_RECIPIENTS,
    MIN_BODY_SIZE,
    MIN_CHUNK_SIZE,
    SEALED_BY,
    SUITE,
    VERSION,
    VERSION_2,
    AttachmentInput,
    SealedEnvelope,
    canonical_json,
    new_envelope_id,
    padme,
    parse_header,
)
from .keys import PUBLIC_KEY_SIZE, RecipientPublicKey, b64encode
from .keyschedule import _SUITE, _wrap_info, body_key


def seal(
    report: Mapping[str, Any],
    recipients: Sequence[RecipientPublicKey],
    *,
    day: date,
    sealed_by: str = "server",
    attachments: Sequence[AttachmentInput] = (),
    reply_key: bytes | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    auth: Mapping[str, bytes] | None = None,
    envelope_id: str | None = None,
) -> SealedEnvelope:
    """Seal ``report`` (a JSON-serializable mapping) and ``attachments`` to
    every key in ``recipients``.

    Args:
        report: the report fields; stored in the body with the attachments'
            names, types, real sizes and SHA-256 digests.
        recipients: 1–32 distinct X-Wing public keys.
        day: the day to write in the header (never a finer time).
        sealed_by: ``"server"``, ``"browser"`` or ``"console"``.
        attachments: files, at most 64.
        reply_key: the reporter's 1216-byte reply public key, if any.
        chunk_size: STREAM chunk size in bytes, 64 KiB to 1 MiB.
        auth: for a v2 envelope, its ``auth`` member: ``{"key": 32 bytes}``
            (a report) or ``{"proof": 32 bytes}`` (a follow-up, a reply);
            None seals v1.
        envelope_id: the envelope id (32 hex digits) when the caller needs
            it before sealing (a proof binds it,
            core/envelope/conversation.py); None draws a fresh one. Never
            reuse an id: the body key is derived from it.

    Returns:
        The sealed envelope. Nothing of the plaintext is kept.

    Raises:
        EnvelopeError: bad arguments (no or duplicate recipients, too many
            attachments, bad chunk size or reply key, ``sealed_by`` unknown).
    """
    _check_seal_arguments(recipients, sealed_by, attachments, chunk_size, reply_key, auth)
    if envelope_id is None:
        envelope_id = new_envelope_id()
    elif not _HEX32.fullmatch(envelope_id):
        raise EnvelopeError("an envelope id is 32 lowercase hex digits")
    content_key = secrets.token_bytes(CONTENT_KEY_SIZE)

    body_plain = _body_plaintext(report, attachments, auth)
    body_size = max(MIN_BODY_SIZE, padme(len(body_plain) + 1))

    header_doc = {
        "v": VERSION if auth is None else VERSION_2,
        "id": envelope_id,
        "suite": SUITE,
        "sealed_by": sealed_by,
        "day": day.isoformat(),
        "recipients": [
            {
                "kid": r.key_id,
                "key": b64encode(
                    _SUITE.encrypt(content_key, r.hpke_key, info=_wrap_info(envelope_id, r.key_id))
                ),
            }
            for r in recipients
        ],
        "body": {"size": body_size},
        "attachments": [{"size": padme(len(a.data)), "chunk": chunk_size} for a in attachments],
        "reply_key": b64encode(reply_key) if reply_key is not None else None,
    }
    header_raw = canonical_json(header_doc)
    header = parse_header(header_raw)  # the same checks open() will make

    padded = body_plain + b"\x80" + bytes(body_size - len(body_plain) - 1)
    body_ct = AESGCM(body_key(content_key, envelope_id)).encrypt(bytes(12), padded, header_raw)

    sealed_attachments = tuple(
        b"".join(
            seal_attachment_chunks(
                content_key, header, index, chunks_of(a.data + bytes(slot.size - len(a.data)), slot.chunk)
            )
        )
        for index, (a, slot) in enumerate(zip(attachments, header.attachments, strict=True))
    )
    return SealedEnvelope(header=header_raw, body=body_ct, attachments=sealed_attachments)


def _check_seal_arguments(
    recipients: Sequence[RecipientPublicKey],
    sealed_by: str,
    attachments: Sequence[AttachmentInput],
    chunk_size: int,
    reply_key: bytes | None,
    auth: Mapping[str, bytes] | None,
) -> None:
    """Raise EnvelopeError for arguments :func:`seal` refuses."""
    if sealed_by not in SEALED_BY:
        raise EnvelopeError("sealed_by must be 'server', 'browser' or 'console'")
    if not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise EnvelopeError(f"an envelope needs 1 to {MAX_RECIPIENTS} recipients")
    if len({r.key_id for r in recipients}) != len(recipients):
        raise EnvelopeError("a recipient is listed twice")
    if len(attachments) > MAX_ATTACHMENTS:
        raise EnvelopeError(f"at most {MAX_ATTACHMENTS} attachments")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise EnvelopeError("chunk size must be 64 KiB to 1 MiB")
    if reply_key is not None and len(reply_key) != PUBLIC_KEY_SIZE:
        raise EnvelopeError("reply key must be 1216 bytes")
    if auth is not None:
        _check_auth(auth)


def _body_plaintext(
    report: Mapping[str, Any], attachments: Sequence[AttachmentInput], auth: Mapping[str, bytes] | None
) -> bytes:
    """The body's UTF-8 JSON before padding: the report, the attachments'
    metadata and, in v2, the ``auth`` member."""
    inner: dict[str, Any] = {
        "report": dict(report),
        "attachments": [
            {
                "name": a.name,
                "type": a.media_type,
                "size": len(a.data),
                "sha256": hashlib.sha256(a.data).hexdigest(),
            }
            for a in attachments
        ],
    }
    if auth is not None:
        inner["auth"] = {name: b64encode(value) for name, value in auth.items()}
    try:
        return json.dumps(inner, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise EnvelopeError("the report is not plain JSON (RFC 8259)") from exc


def _check_auth(auth: Mapping[str, bytes]) -> None:
    if len(auth) != 1 or next(iter(auth)) not in AUTH_MEMBERS:
        raise EnvelopeError("auth holds exactly one of 'key' or 'proof'")
    if any(not isinstance(v, bytes) or len(v) != AUTH_SIZE for v in auth.values()):
        raise EnvelopeError("an auth key or proof is 32 bytes")
