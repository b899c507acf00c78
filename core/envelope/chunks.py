"""The STREAM chunk layer of envelope attachments (docs/envelope.md): each
padded attachment is cut into chunks of the slot's ``chunk`` bytes and
encrypted with AES-256-GCM under its attachment key, nonce = 88-bit
big-endian counter || last-chunk flag, associated data = SHA-256 of the
header. A truncated, dropped, reordered or extra chunk fails its counter
or last flag. Chunk by chunk, so neither side holds a large file whole."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import EnvelopeError, MalformedEnvelopeError, TamperedEnvelopeError
from .format import TAG_SIZE, AttachmentSlot, Header
from .keyschedule import attachment_key

_LAST = 1
_NOT_LAST = 0


def _chunk_nonce(counter: int, last: bool) -> bytes:
    if counter >= 1 << 88:
        raise EnvelopeError("too many chunks")
    return counter.to_bytes(11, "big") + bytes([_LAST if last else _NOT_LAST])


def chunks_of(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` cut into pieces of ``size`` bytes (the last may be shorter)."""
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
