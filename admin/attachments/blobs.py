"""Sealed attachment blobs in ``DATA_DIR/blobs`` and the streaming helpers
to verify and open them chunk by chunk (no attachment is ever held whole in
memory, and none is ever written to disk in clear)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.envelope import MalformedEnvelopeError, TamperedEnvelopeError

READ_SIZE = 64 * 1024


def blob_dir(data_dir: Path) -> Path:
    """``DATA_DIR/blobs``."""
    return data_dir / "blobs"


def blob_name(envelope_id: str, position: int) -> str:
    """File name of a sealed attachment: ``<envelope id>-<index>.sealed``."""
    return f"{envelope_id}-{position}.sealed"


def rechunk(pieces: Iterable[bytes], size: int, limit: int) -> Iterator[bytes]:
    """Cut a byte stream into chunks of ``size`` bytes (the last may be
    shorter).

    Raises:
        TamperedEnvelopeError: the stream holds more than ``limit`` bytes
            (reading stops there, so a hostile server cannot make us read
            without end).
    """
    buffer = bytearray()
    total = 0
    for piece in pieces:
        total += len(piece)
        if total > limit:
            raise TamperedEnvelopeError("attachment is longer than its header says")
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer or total == 0:
        yield bytes(buffer)


def read_chunks(path: Path) -> Iterator[bytes]:
    """The bytes of ``path`` in pieces of :data:`READ_SIZE`."""
    with path.open("rb") as f:
        while piece := f.read(READ_SIZE):
            yield piece


def unpad_and_verify(padded_chunks: Iterable[bytes], size: int, sha256: str) -> Iterator[bytes]:
    """Yield the first ``size`` bytes of the padded plaintext, checking that
    the rest is zero padding and that the SHA-256 of the data is ``sha256``.

    Raises:
        MalformedEnvelopeError: non-zero padding or digest mismatch (after
            the last chunk: a consumer must not trust the data before the
            generator finished).
    """
    digest = hashlib.sha256()
    seen = 0
    for chunk in padded_chunks:
        take = max(0, min(len(chunk), size - seen))
        data, padding = chunk[:take], chunk[take:]
        if padding.strip(b"\x00"):
            raise MalformedEnvelopeError("attachment padding is not zero")
        digest.update(data)
        seen += len(chunk)
        if data:
            yield data
    if seen < size:
        raise MalformedEnvelopeError("attachment is shorter than its stated size")
    if digest.hexdigest() != sha256:
        raise MalformedEnvelopeError("attachment digest does not match")
