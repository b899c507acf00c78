"""Opening an envelope of format v1 or v2: unwrap the content key with an
unlocked private key, authenticate and parse the body, open the
attachments chunk by chunk (:mod:`.chunks`) and check them against the
body's metadata."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .chunks import open_attachment_chunks, split_ciphertext
from .errors import MalformedEnvelopeError, NotARecipientError, TamperedEnvelopeError
from .format import (
    AUTH_MEMBERS,
    AUTH_SIZE,
    CONTENT_KEY_SIZE,
    TAG_SIZE,
    VERSION,
    VERSION_2,
    Header,
    OpenedAttachment,
    OpenedEnvelope,
    SealedEnvelope,
    padme,
    parse_header,
)
from .keys import RecipientPrivateKey, b64decode
from .keyschedule import _SUITE, _wrap_info, body_key


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
