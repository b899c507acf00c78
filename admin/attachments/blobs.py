"""Sealed attachment blobs in ``DATA_DIR/blobs``: writing them as a sync
downloads them (:func:`write_blob`, verified before it is named) and the
streaming helpers to verify and open them chunk by chunk (no attachment is
ever held whole in memory, and none is ever written to disk in clear)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from core.envelope import Header, MalformedEnvelopeError, TamperedEnvelopeError, open_attachment_chunks
from core.envelope.format import TAG_SIZE

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


def write_blob(
    blobs: Path,
    header: Header,
    content_key: bytes,
    index: int,
    meta: Mapping[str, Any],
    pieces: Iterable[bytes],
    take: Callable[[int], None],
) -> str:
    """Write attachment ``index`` of an envelope, as its ciphertext arrives
    in ``pieces``, to ``blobs/<blob_name>``: each piece is counted by
    ``take`` (which may refuse it) before it is written, the whole is
    opened and checked against its sealed ``meta`` (``size``, ``sha256``)
    on the way, and only a verified, fsynced file gets its name. The
    directory itself is fsynced by the caller, once per page (:func:`core.files.fsync_dir`).

    Returns:
        The blob's name.

    Raises:
        TamperedEnvelopeError, MalformedEnvelopeError: longer than the
            header says, does not open, or does not match ``meta`` (nothing
            is left on disk). As ``take`` and ``pieces``.
    """
    slot = header.attachments[index]
    name = blob_name(header.envelope_id, index)
    # A name of its own (mkstemp: created exclusively, mode 0600): two
    # syncs writing one envelope's blob never share a partial file.
    fd, partial_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=blobs)
    partial = Path(partial_name)
    try:
        with os.fdopen(fd, "wb") as out:

            def kept(stream: Iterable[bytes], limit: int) -> Iterator[bytes]:
                # Counted before it is written: never a byte past what
                # the header declares, nor past the sync's cap.
                received = 0
                for piece in stream:
                    received += len(piece)
                    if received > limit:
                        raise TamperedEnvelopeError("attachment is longer than its header says")
                    take(len(piece))
                    out.write(piece)  # ciphertext as received
                    yield piece

            chunks = rechunk(kept(pieces, slot.ciphertext_size), slot.chunk + TAG_SIZE, slot.ciphertext_size)
            plain = open_attachment_chunks(content_key, header, index, chunks)
            for _ in unpad_and_verify(plain, int(meta["size"]), str(meta["sha256"])):
                pass  # verified and dropped: only the ciphertext is kept
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, blobs / name)
    finally:
        partial.unlink(missing_ok=True)
    return name
