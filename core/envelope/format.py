"""Envelope format v1: seal a report and its attachments to recipients, and
open it again.

An envelope has three parts, stored and sent separately:

``header``
    Canonical JSON (keys sorted, no white space, ASCII only), the only
    cleartext. It holds: ``v`` (1), ``id`` (16 random bytes, hex), ``suite``,
    ``sealed_by`` (``"server"``, ``"browser"`` or ``"console"``), ``day`` (``YYYY-MM-DD``),
    ``recipients`` (key id and HPKE-sealed content key for each), ``body``
    (padded size), ``attachments`` (padded size and chunk size for each) and
    ``reply_key`` (the reporter's reply public key, base64, or null).
``body``
    The report: UTF-8 JSON, padded (ISO/IEC 7816-4: 0x80 then zeros) to a
    Padmé length (Nikitin et al., "Reducing Metadata Leakage from Encrypted
    Files and Communication with PURBs", PETS 2019) of at least 1 KiB, sealed
    with AES-256-GCM under ``HKDF(content key, salt=id, info="…/body")``,
    nonce zero (the key is used once), the header bytes as associated data.
``attachments``
    Each one zero-padded to a Padmé length and encrypted as a STREAM
    (Hoang, Reyhanitabar, Rogaway, Vizár, "Online Authenticated-Encryption and
    its Nonce-Reuse Misuse-Resistance", CRYPTO 2015; as used by age): chunks of
    ``chunk`` plaintext bytes, AES-256-GCM under ``HKDF(content key, salt=id,
    info="…/attachment" || index)``, nonce = 88-bit big-endian counter ||
    last-chunk flag, associated data = SHA-256 of the header. File names, types
    and real sizes are inside the body.

The content key (32 random bytes) is sealed once per recipient with HPKE
(RFC 9180, base mode, single-shot) using X-Wing (KEM 0x647a), HKDF-SHA256 and
AES-256-GCM; ``info`` binds the format version, envelope id and key id.

So: any flipped bit fails an AEAD tag; a header edit (recipients, sizes,
sealed-by, day) fails the body and every chunk; a truncated, dropped or
reordered chunk fails its counter or last flag; an attachment moved to another
envelope or another index fails its key.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import (
    EnvelopeError,
    MalformedEnvelopeError,
    NotARecipientError,
    TamperedEnvelopeError,
)
from .keys import PUBLIC_KEY_SIZE, RecipientPrivateKey, RecipientPublicKey, b64decode, b64encode

VERSION = 1
#: Format v2 (docs/envelope.md, "Version 2"): the same header and key
#: schedule, ``"v": 2``, and a third body member ``auth`` that binds the
#: conversation between a reporter and the coalition.
VERSION_2 = 2
VERSIONS = (VERSION, VERSION_2)
#: Members of a v2 body's ``auth`` object: a report carries its
#: conversation's authentication ``key``, a follow-up or a reply its
#: ``proof`` (HMAC-SHA256, core/envelope/conversation.py).
AUTH_MEMBERS = ("key", "proof")
AUTH_SIZE = 32
SUITE = "XWING-HKDFSHA256-AES256GCM"
#: ``console``: a reviewer's reply to a reporter, or a report taken by
#: interview in the console (docs/envelope.md, "Reply keys").
SEALED_BY = ("server", "browser", "console")
DEFAULT_CHUNK_SIZE = 64 * 1024
MIN_CHUNK_SIZE = 64 * 1024
MAX_CHUNK_SIZE = 1024 * 1024
MIN_BODY_SIZE = 1024
MAX_RECIPIENTS = 32
MAX_ATTACHMENTS = 64
TAG_SIZE = 16
CONTENT_KEY_SIZE = 32
ENVELOPE_ID_SIZE = 16
#: HPKE X-Wing enc (1120) + sealed 32-byte content key + AES-GCM tag.
WRAPPED_KEY_SIZE = 1120 + CONTENT_KEY_SIZE + TAG_SIZE

_LABEL = b"tnr-intake/v1/"
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_LAST = 1
_NOT_LAST = 0


def padme(length: int) -> int:
    """Padmé padded length for ``length`` bytes (PURBs paper, Algorithm 1).

    Leaks O(log log L) bits of the length, with at most 12 % overhead.

    Raises:
        ValueError: negative length.
    """
    if length < 0:
        raise ValueError("negative length")
    if length < 2:
        return length
    e = length.bit_length() - 1
    s = e.bit_length()
    last_bits = e - s
    mask = (1 << last_bits) - 1
    return (length + mask) & ~mask


@dataclass(frozen=True)
class AttachmentInput:
    """A file to seal: its name and media type go inside the body."""

    name: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class RecipientEntry:
    """One recipient in the header: key id (hex SHA-256 of the public key) and
    the content key sealed to it (HPKE enc || ciphertext)."""

    key_id: str
    wrapped_key: bytes


@dataclass(frozen=True)
class AttachmentSlot:
    """An attachment's cleartext facts: padded plaintext size and chunk size
    (bytes)."""

    size: int
    chunk: int

    @property
    def chunk_count(self) -> int:
        """Number of STREAM chunks (at least one, even for an empty file)."""
        return max(1, -(-self.size // self.chunk))

    @property
    def ciphertext_size(self) -> int:
        """Exact byte length of the sealed attachment."""
        return self.size + self.chunk_count * TAG_SIZE


@dataclass(frozen=True)
class Header:
    """The parsed cleartext header. ``raw`` is the canonical bytes, which are
    the body's associated data."""

    envelope_id: str
    sealed_by: str
    day: date
    recipients: tuple[RecipientEntry, ...]
    body_size: int
    attachments: tuple[AttachmentSlot, ...]
    reply_key: bytes | None
    raw: bytes = field(repr=False)
    #: The format version, 1 or 2 (a v2 body carries ``auth``).
    version: int = VERSION

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Recipient key ids, in header order."""
        return tuple(r.key_id for r in self.recipients)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the header bytes: the associated data of every chunk."""
        return hashlib.sha256(self.raw).digest()


@dataclass(frozen=True)
class SealedEnvelope:
    """An envelope as stored: header bytes, body ciphertext, one ciphertext
    per attachment."""

    header: bytes
    body: bytes
    attachments: tuple[bytes, ...] = ()

    @property
    def envelope_id(self) -> str:
        """The envelope id from the header (parsed, so it is checked)."""
        return parse_header(self.header).envelope_id


@dataclass(frozen=True)
class OpenedAttachment:
    """A decrypted attachment: name, media type, bytes and their SHA-256 hex."""

    name: str
    media_type: str
    data: bytes
    sha256: str


@dataclass(frozen=True)
class OpenedEnvelope:
    """The result of :func:`open_envelope`."""

    header: Header
    report: dict[str, Any]
    attachments: tuple[OpenedAttachment, ...]
    content_key: bytes = field(repr=False)
    #: A v2 envelope's ``auth`` member (``{"key": bytes}`` or
    #: ``{"proof": bytes}``, 32 bytes); None for v1.
    auth: dict[str, bytes] | None = field(default=None, repr=False)


# --------------------------------------------------------------------------
# Header


def canonical_json(obj: object) -> bytes:
    """Canonical JSON bytes: sorted keys, no white space, ASCII escapes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for k, v in pairs:
        if k in result:
            raise MalformedEnvelopeError(f"duplicate header field {k!r}")
        result[k] = v
    return result


def _int_field(value: object, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise MalformedEnvelopeError(f"header {what} must be an integer in [{low}, {high}]")
    return value


def parse_header(raw: bytes) -> Header:
    """Parse and strictly check header bytes.

    Raises:
        MalformedEnvelopeError: not canonical JSON, a missing, extra or
            ill-typed field, or values out of range.
    """
    if not isinstance(raw, bytes) or len(raw) > 128 * 1024:
        raise MalformedEnvelopeError("header missing or too large")
    try:
        doc = json.loads(raw.decode("ascii"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedEnvelopeError("header is not ASCII JSON") from exc
    if not isinstance(doc, dict):
        raise MalformedEnvelopeError("header is not a JSON object")
    expected = {"v", "id", "suite", "sealed_by", "day", "recipients", "body", "attachments", "reply_key"}
    if set(doc) != expected:
        raise MalformedEnvelopeError("header fields are not those of version 1")
    # type() rather than isinstance: bool is an int, and 1.0 == 1 would let
    # '"v":1.0' pass (json.dumps keeps it as "1.0", so it also looks canonical).
    if type(doc["v"]) is not int or doc["v"] not in VERSIONS:
        raise MalformedEnvelopeError("unsupported envelope version")
    if doc["suite"] != SUITE:
        raise MalformedEnvelopeError("unsupported suite")
    if not isinstance(doc["id"], str) or not _HEX32.fullmatch(doc["id"]):
        raise MalformedEnvelopeError("header id must be 32 lowercase hex digits")
    if doc["sealed_by"] not in SEALED_BY:
        raise MalformedEnvelopeError("header sealed_by must be 'server', 'browser' or 'console'")
    if not isinstance(doc["day"], str) or not _DAY.fullmatch(doc["day"]):
        raise MalformedEnvelopeError("header day must be YYYY-MM-DD")
    try:
        day = date.fromisoformat(doc["day"])
    except ValueError as exc:
        raise MalformedEnvelopeError("header day is not a date") from exc

    recipients_doc = doc["recipients"]
    if not isinstance(recipients_doc, list) or not 1 <= len(recipients_doc) <= MAX_RECIPIENTS:
        raise MalformedEnvelopeError(f"header needs 1 to {MAX_RECIPIENTS} recipients")
    recipients: list[RecipientEntry] = []
    for entry in recipients_doc:
        if not isinstance(entry, dict) or set(entry) != {"kid", "key"}:
            raise MalformedEnvelopeError("recipient entry must have 'kid' and 'key'")
        if not isinstance(entry["kid"], str) or not _HEX64.fullmatch(entry["kid"]):
            raise MalformedEnvelopeError("recipient kid must be 64 lowercase hex digits")
        try:
            wrapped = b64decode(entry["key"], "recipient key")
        except ValueError as exc:
            raise MalformedEnvelopeError(str(exc)) from exc
        if len(wrapped) != WRAPPED_KEY_SIZE:
            raise MalformedEnvelopeError("recipient key has the wrong length")
        recipients.append(RecipientEntry(entry["kid"], wrapped))
    if len({r.key_id for r in recipients}) != len(recipients):
        raise MalformedEnvelopeError("a recipient is listed twice")

    body = doc["body"]
    if not isinstance(body, dict) or set(body) != {"size"}:
        raise MalformedEnvelopeError("header body must have 'size'")
    body_size = _int_field(body["size"], "body size", MIN_BODY_SIZE, 2**40)

    attachments_doc = doc["attachments"]
    if not isinstance(attachments_doc, list) or len(attachments_doc) > MAX_ATTACHMENTS:
        raise MalformedEnvelopeError(f"header allows at most {MAX_ATTACHMENTS} attachments")
    slots: list[AttachmentSlot] = []
    for slot in attachments_doc:
        if not isinstance(slot, dict) or set(slot) != {"size", "chunk"}:
            raise MalformedEnvelopeError("attachment slot must have 'size' and 'chunk'")
        slots.append(
            AttachmentSlot(
                size=_int_field(slot["size"], "attachment size", 0, 2**40),
                chunk=_int_field(slot["chunk"], "chunk size", MIN_CHUNK_SIZE, MAX_CHUNK_SIZE),
            )
        )

    reply_key: bytes | None = None
    if doc["reply_key"] is not None:
        try:
            reply_key = b64decode(doc["reply_key"], "reply_key")
        except ValueError as exc:
            raise MalformedEnvelopeError(str(exc)) from exc
        if len(reply_key) != PUBLIC_KEY_SIZE:
            raise MalformedEnvelopeError("reply_key has the wrong length")

    if canonical_json(doc) != raw:
        raise MalformedEnvelopeError("header is not in canonical form")
    return Header(
        envelope_id=doc["id"],
        sealed_by=doc["sealed_by"],
        day=day,
        recipients=tuple(recipients),
        body_size=body_size,
        attachments=tuple(slots),
        reply_key=reply_key,
        raw=raw,
        version=doc["v"],
    )


# --------------------------------------------------------------------------
# Key schedule


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


def _chunk_nonce(counter: int, last: bool) -> bytes:
    if counter >= 1 << 88:
        raise EnvelopeError("too many chunks")
    return counter.to_bytes(11, "big") + bytes([_LAST if last else _NOT_LAST])


# --------------------------------------------------------------------------
# Seal


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
    if envelope_id is None:
        envelope_id = new_envelope_id()
    elif not _HEX32.fullmatch(envelope_id):
        raise EnvelopeError("an envelope id is 32 lowercase hex digits")
    content_key = secrets.token_bytes(CONTENT_KEY_SIZE)

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
        body_plain = json.dumps(inner, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise EnvelopeError("the report is not plain JSON (RFC 8259)") from exc
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
                content_key, header, index, _chunks(a.data + bytes(slot.size - len(a.data)), slot.chunk)
            )
        )
        for index, (a, slot) in enumerate(zip(attachments, header.attachments, strict=True))
    )
    return SealedEnvelope(header=header_raw, body=body_ct, attachments=sealed_attachments)


def new_envelope_id() -> str:
    """A fresh envelope id: 16 random bytes as 32 lowercase hex digits."""
    return secrets.token_hex(ENVELOPE_ID_SIZE)


def _check_auth(auth: Mapping[str, bytes]) -> None:
    if len(auth) != 1 or next(iter(auth)) not in AUTH_MEMBERS:
        raise EnvelopeError("auth holds exactly one of 'key' or 'proof'")
    if any(not isinstance(v, bytes) or len(v) != AUTH_SIZE for v in auth.values()):
        raise EnvelopeError("an auth key or proof is 32 bytes")


def _parse_auth(value: object) -> dict[str, bytes]:
    """The ``auth`` member of a v2 body, decoded.

    Raises:
        MalformedEnvelopeError: not one of ``{"key": b64}`` / ``{"proof":
            b64}`` with 32 bytes of canonical base64.
    """
    if not isinstance(value, dict) or len(value) != 1:
        raise MalformedEnvelopeError("body auth must hold one member")
    ((name, text),) = value.items()
    if name not in AUTH_MEMBERS:
        raise MalformedEnvelopeError("body auth must hold 'key' or 'proof'")
    try:
        raw = b64decode(text, "auth")
    except ValueError as exc:
        raise MalformedEnvelopeError(str(exc)) from exc
    if len(raw) != AUTH_SIZE:
        raise MalformedEnvelopeError("body auth has the wrong length")
    return {name: raw}


def _chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def seal_attachment_chunks(
    content_key: bytes, header: Header, index: int, plaintext_chunks: Iterable[bytes]
) -> Iterator[bytes]:
    """STREAM-encrypt an attachment's padded plaintext, given as chunks of
    exactly ``header.attachments[index].chunk`` bytes (the last may be shorter
    or, for an empty file, empty). Yields ciphertext chunks (plaintext + 16).

    Raises:
        EnvelopeError: the chunks do not add up to the slot's padded size.
    """
    slot = header.attachments[index]
    aead = AESGCM(attachment_key(content_key, header.envelope_id, index))
    aad = header.digest
    pending: bytes | None = None
    counter = 0
    total = 0
    for chunk in plaintext_chunks:
        if pending is not None:
            if len(pending) != slot.chunk:
                raise EnvelopeError("only the last chunk may be short")
            yield aead.encrypt(_chunk_nonce(counter, last=False), pending, aad)
            counter += 1
        pending = chunk
        total += len(chunk)
    if total != slot.size:
        raise EnvelopeError("attachment size does not match its slot")
    yield aead.encrypt(_chunk_nonce(counter, last=True), pending or b"", aad)


# --------------------------------------------------------------------------
# Open


def unwrap_content_key(header: Header, private_keys: Iterable[RecipientPrivateKey]) -> bytes:
    """Find a key of ours among the recipients and open the content key.

    Raises:
        NotARecipientError: no given key is a recipient.
        TamperedEnvelopeError: HPKE decryption failed (wrong id, changed
            bytes, or a key entry copied from another envelope).
    """
    by_id = {k.key_id: k for k in private_keys}
    for entry in header.recipients:
        key = by_id.get(entry.key_id)
        if key is None:
            continue
        try:
            content_key = _SUITE.decrypt(
                entry.wrapped_key, key.hpke_key, info=_wrap_info(header.envelope_id, entry.key_id)
            )
        except (InvalidTag, ValueError) as exc:
            raise TamperedEnvelopeError("the content key does not open for this recipient") from exc
        if len(content_key) != CONTENT_KEY_SIZE:
            raise TamperedEnvelopeError("the content key has the wrong length")
        return content_key
    raise NotARecipientError("none of the unlocked keys is a recipient of this envelope")


def open_body(header: Header, body: bytes, content_key: bytes) -> dict[str, Any]:
    """Decrypt and parse the body: ``{"report": {...}, "attachments": [...]}``,
    and in version 2 ``"auth": {"key" | "proof": 32 bytes}`` (decoded).

    Raises:
        TamperedEnvelopeError: authentication failed.
        MalformedEnvelopeError: wrong size, bad padding or JSON, or attachment
            metadata that does not match the header.
    """
    if len(body) != header.body_size + TAG_SIZE:
        raise MalformedEnvelopeError("body has the wrong length")
    try:
        padded = AESGCM(body_key(content_key, header.envelope_id)).decrypt(bytes(12), body, header.raw)
    except InvalidTag as exc:
        raise TamperedEnvelopeError("the body does not authenticate") from exc
    end = padded.rstrip(b"\x00")
    if not end.endswith(b"\x80"):
        raise MalformedEnvelopeError("body padding is invalid")
    try:
        inner = json.loads(end[:-1].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedEnvelopeError("body is not UTF-8 JSON") from exc
    check_plain_json(inner)
    members = {"report", "attachments"} if header.version == VERSION else {"report", "attachments", "auth"}
    if not isinstance(inner, dict) or set(inner) != members:
        raise MalformedEnvelopeError("body must hold 'report' and 'attachments' (and 'auth' in version 2)")
    if header.version == VERSION_2:
        inner["auth"] = _parse_auth(inner["auth"])
    if not isinstance(inner["report"], dict) or not isinstance(inner["attachments"], list):
        raise MalformedEnvelopeError("body fields have the wrong types")
    if len(inner["attachments"]) != len(header.attachments):
        raise MalformedEnvelopeError("body and header disagree on the number of attachments")
    for meta, slot in zip(inner["attachments"], header.attachments, strict=True):
        if (
            not isinstance(meta, dict)
            or not isinstance(meta.get("name"), str)
            or not isinstance(meta.get("type"), str)
            or not isinstance(meta.get("sha256"), str)
            or not isinstance(meta.get("size"), int)
            or not 0 <= meta["size"] <= slot.size
            or padme(meta["size"]) != slot.size
        ):
            raise MalformedEnvelopeError("attachment metadata does not match the header")
    return inner


#: Deepest nesting a body may have. A report is a flat mapping of fields with
#: short lists; the limit keeps a hostile body from exhausting the console's
#: stack or its JSON encoder.
MAX_JSON_DEPTH = 16


def check_plain_json(value: object) -> None:
    """Check a parsed body is plain data a console can store and show again:
    nesting at most :data:`MAX_JSON_DEPTH`, text that is valid Unicode (no
    lone surrogates, which JSON's ``\\uD800`` escapes can carry), no
    non-finite numbers.

    Raises:
        MalformedEnvelopeError: otherwise.
    """
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise MalformedEnvelopeError("body is nested too deeply")
        if isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise MalformedEnvelopeError("body text is not valid Unicode") from exc
        elif isinstance(item, float) and not math.isfinite(item):
            raise MalformedEnvelopeError("body holds a non-finite number")


def open_attachment_chunks(
    content_key: bytes, header: Header, index: int, ciphertext_chunks: Iterable[bytes]
) -> Iterator[bytes]:
    """Decrypt attachment ``index`` chunk by chunk; yields padded plaintext.

    ``ciphertext_chunks`` must be exactly the sealed chunks (``chunk + 16``
    bytes each, the last possibly shorter). Use :func:`split_ciphertext` to
    cut a byte string or stream into them.

    Raises:
        TamperedEnvelopeError: a chunk fails to authenticate, one is missing,
            reordered or extra, or the stream ends before its last chunk.
        MalformedEnvelopeError: ``index`` is out of range.
    """
    if not 0 <= index < len(header.attachments):
        raise MalformedEnvelopeError("no such attachment")
    slot = header.attachments[index]
    aead = AESGCM(attachment_key(content_key, header.envelope_id, index))
    aad = header.digest
    total = slot.chunk_count
    counter = 0
    for chunk in ciphertext_chunks:
        if counter >= total:
            raise TamperedEnvelopeError("attachment has data after its last chunk")
        last = counter == total - 1
        try:
            yield aead.decrypt(_chunk_nonce(counter, last), chunk, aad)
        except InvalidTag as exc:
            raise TamperedEnvelopeError(f"attachment {index} chunk {counter} does not authenticate") from exc
        counter += 1
    if counter != total:
        raise TamperedEnvelopeError("attachment is truncated")


def split_ciphertext(slot: AttachmentSlot, data: bytes) -> Iterator[bytes]:
    """Cut a sealed attachment into its ciphertext chunks.

    Raises:
        TamperedEnvelopeError: the length is not the slot's ciphertext size.
    """
    if len(data) != slot.ciphertext_size:
        raise TamperedEnvelopeError("attachment has the wrong length")
    step = slot.chunk + TAG_SIZE
    for start in range(0, max(len(data), 1), step):
        yield data[start : start + step]


def open_envelope(sealed: SealedEnvelope, private_keys: Iterable[RecipientPrivateKey]) -> OpenedEnvelope:
    """Verify and open a whole envelope in memory.

    Returns:
        The header, the report mapping, and each attachment with its name,
        media type, bytes (padding removed) and SHA-256 (checked against the
        digest inside the body).

    Raises:
        MalformedEnvelopeError, NotARecipientError, TamperedEnvelopeError:
            see :func:`parse_header`, :func:`unwrap_content_key`,
            :func:`open_body`, :func:`open_attachment_chunks`.
    """
    header = parse_header(sealed.header)
    if len(sealed.attachments) != len(header.attachments):
        raise TamperedEnvelopeError("the number of attachments does not match the header")
    content_key = unwrap_content_key(header, private_keys)
    inner = open_body(header, sealed.body, content_key)
    opened: list[OpenedAttachment] = []
    for index, (meta, slot, data) in enumerate(
        zip(inner["attachments"], header.attachments, sealed.attachments, strict=True)
    ):
        plain = b"".join(open_attachment_chunks(content_key, header, index, split_ciphertext(slot, data)))
        opened.append(finish_attachment(meta, plain))
    return OpenedEnvelope(
        header=header,
        report=inner["report"],
        attachments=tuple(opened),
        content_key=content_key,
        auth=inner.get("auth"),
    )


def finish_attachment(meta: Mapping[str, Any], padded: bytes) -> OpenedAttachment:
    """Strip an attachment's zero padding and check its SHA-256 against the
    body's metadata.

    Raises:
        MalformedEnvelopeError: non-zero padding or a digest mismatch.
    """
    size = int(meta["size"])
    data, padding = padded[:size], padded[size:]
    if padding.strip(b"\x00"):
        raise MalformedEnvelopeError("attachment padding is not zero")
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta["sha256"]:
        raise MalformedEnvelopeError("attachment digest does not match")
    return OpenedAttachment(name=str(meta["name"]), media_type=str(meta["type"]), data=data, sha256=digest)
