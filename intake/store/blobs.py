"""Where the intake keeps attachment ciphertexts: one storage interface
(:class:`BlobStore`) with two implementations.

- :class:`FileBlobStore` (``BLOB_STORE = "files"``, by choice only): files in
  the data folder; each envelope's folder keeps its arrival's exact time in
  the file system (mtime, ctime), which the default avoids. Write order (invariant 5, "acknowledged means
  durable"): every blob is written to a temporary name, fsynced and renamed
  into place, then the envelope row is committed (:mod:`intake.store.envelopes`);
  only after that commit does the reporter see a receipt. A crash in
  between leaves at most orphan blobs with no row, which no console ever
  ingests, and which :func:`intake.store.envelopes.remove_orphans` can clear.
- :class:`DatabaseBlobStore` (``BLOB_STORE = "database"``, the default):
  rows of ``envelope_blob``, committed in the same transaction
  as the envelope, so every intake host sharing the database serves them and
  a crash leaves nothing at all. An S3-compatible store would be a third
  implementation of the same interface.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import LargeBinary, func, select

from core.files import fsync_dir

from .models import Envelope, EnvelopeBlob

if TYPE_CHECKING:
    from core.db import Database

BLOB_READ_SIZE = 1024 * 1024


class BlobStore(Protocol):
    """Where attachment ciphertexts live. :func:`store_envelope` calls
    :meth:`stage` before the envelope's commit and :meth:`discard` if the
    commit fails; the reviewer API calls :meth:`read_chunks`."""

    def stage(self, envelope_id: str, attachments: tuple[bytes, ...]) -> Sequence[bytes]:
        """Make ``attachments`` durable before the envelope's row commits
        and return nothing, or return them to be inserted as
        ``envelope_blob`` rows in the envelope's own transaction. Raises
        OSError if the storage refused."""
        ...  # pragma: no cover

    def discard(self, envelope_id: str) -> None:
        """Undo :meth:`stage` after a failed commit."""

    def read_chunks(self, envelope_id: str, index: int) -> Iterator[bytes]:
        """Yield one attachment in pieces. Raises FileNotFoundError."""
        ...  # pragma: no cover

    def envelope_ids(self) -> list[str]:
        """Envelope ids that have stored blobs outside the database rows."""
        ...  # pragma: no cover

    def delete(self, envelope_id: str) -> None:
        """Remove an envelope's blobs kept outside the database, if any."""


class FileBlobStore:
    """Attachment ciphertexts as files under ``root/<envelope id>/<index>``.

    Args:
        root: the directory; created if missing.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _dir(self, envelope_id: str) -> Path:
        if len(envelope_id) != 32 or not all(c in "0123456789abcdef" for c in envelope_id):
            raise ValueError("bad envelope id")
        return self.root / envelope_id

    def write(self, envelope_id: str, attachments: tuple[bytes, ...]) -> None:
        """Durably write every attachment of one envelope.

        Raises:
            OSError: the disk refused; partial files are removed.
        """
        directory = self._dir(envelope_id)
        if not attachments:
            return  # nothing to make durable: no folder, no fsync
        directory.mkdir(exist_ok=False)
        try:
            for index, data in enumerate(attachments):
                tmp = directory / f"{index}.tmp"
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, directory / str(index))
            fsync_dir(directory)
            fsync_dir(self.root)
        except OSError:
            self.delete(envelope_id)
            raise

    def stage(self, envelope_id: str, attachments: tuple[bytes, ...]) -> Sequence[bytes]:
        """Write the files durably before the row commits (see module doc);
        nothing goes into the database."""
        self.write(envelope_id, attachments)
        return ()

    def discard(self, envelope_id: str) -> None:
        """Remove the files of an envelope whose row did not commit."""
        self.delete(envelope_id)

    def read_chunks(self, envelope_id: str, index: int) -> Iterator[bytes]:
        """Yield attachment ``index`` of an envelope in 1 MiB reads.

        Raises:
            FileNotFoundError: no such blob.
        """
        path = self._dir(envelope_id) / str(int(index))
        with open(path, "rb") as fh:
            while block := fh.read(BLOB_READ_SIZE):
                yield block

    def delete(self, envelope_id: str) -> None:
        """Remove an envelope's blobs, if any."""
        shutil.rmtree(self._dir(envelope_id), ignore_errors=True)

    def envelope_ids(self) -> list[str]:
        """Envelope ids that have a blob directory."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())


class DatabaseBlobStore:
    """Attachment ciphertexts as ``envelope_blob`` rows of the intake
    database, read back in 1 MiB slices (``substr``, on SQLite and
    PostgreSQL alike) so a large attachment is never whole in memory.

    Args:
        database: the intake's :class:`~core.db.Database`; reads use a
            short session of their own (the reviewer API streams them after
            the view has returned).
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    def stage(self, envelope_id: str, attachments: tuple[bytes, ...]) -> Sequence[bytes]:
        return attachments  # inserted and committed with the envelope

    def discard(self, envelope_id: str) -> None:
        return None  # rolled back with the envelope

    def read_chunks(self, envelope_id: str, index: int) -> Iterator[bytes]:
        where = (
            EnvelopeBlob.envelope_seq
            == select(Envelope.seq).where(Envelope.envelope_id == envelope_id).scalar_subquery(),
            EnvelopeBlob.position == int(index),
        )
        with self.database.sessions() as session:
            size = session.scalar(select(func.length(EnvelopeBlob.data)).where(*where))
        if size is None:
            raise FileNotFoundError(f"no attachment {index} of envelope {envelope_id}")
        for offset in range(0, int(size), BLOB_READ_SIZE):
            piece = func.substr(EnvelopeBlob.data, offset + 1, BLOB_READ_SIZE, type_=LargeBinary)
            with self.database.sessions() as session:
                data = session.scalar(select(piece).where(*where))
            if data is None:
                raise FileNotFoundError(f"attachment {index} of envelope {envelope_id} vanished")
            yield bytes(data)

    def envelope_ids(self) -> list[str]:
        return []  # blobs commit with their envelope: never orphaned

    def delete(self, envelope_id: str) -> None:
        return None  # deleted with the envelope row (ON DELETE CASCADE)
