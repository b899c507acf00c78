"""Envelope format v1: the header, its limits and its parser, and the
construction that :mod:`.sealing` and :mod:`.opening` follow (the key
schedule in :mod:`.keyschedule`, the attachments' STREAM in :mod:`.chunks`).

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
import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .errors import MalformedEnvelopeError
from .keys import PUBLIC_KEY_SIZE, b64decode

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

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


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


def _key_field(value: object, what: str, size: int) -> bytes:
    """A header's base64 key field (a recipient's wrapped key, the reply
    key) as its ``size`` bytes.

    Raises:
        MalformedEnvelopeError: not canonical base64 (the message names
            ``what``), or not ``size`` bytes long.
    """
    try:
        key = b64decode(value, what)
    except ValueError as exc:
        raise MalformedEnvelopeError(str(exc)) from exc
    if len(key) != size:
        raise MalformedEnvelopeError(f"{what} has the wrong length")
    return key


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
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: JSON nested thousands deep ("[[[[…") fits well
        # within the size bound and exhausts the parser's stack.
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
        wrapped = _key_field(entry["key"], "recipient key", WRAPPED_KEY_SIZE)
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
        reply_key = _key_field(doc["reply_key"], "reply_key", PUBLIC_KEY_SIZE)

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


def new_envelope_id() -> str:
    """A fresh envelope id: 16 random bytes as 32 lowercase hex digits."""
    return secrets.token_hex(ENVELOPE_ID_SIZE)
