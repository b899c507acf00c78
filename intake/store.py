"""The envelope store: attachment ciphertexts as files in the data folder,
the rest in the database.

Write order (invariant 5, "acknowledged means durable"): every blob is written
to a temporary name, fsynced and renamed into place, then the envelope row is
committed; only after that commit does the reporter see a receipt. A crash in
between leaves at most orphan blobs with no row, which no console ever
ingests, and which :func:`remove_orphans` can clear.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .envelope import Header, SealedEnvelope, parse_header
from .models import Envelope, EnvelopeRecipient, ReceiptRecord

BLOB_READ_SIZE = 1024 * 1024


class StoreError(Exception):
    """The envelope could not be stored (disk, database); nothing was
    acknowledged."""


class BlobStore:
    """Attachment ciphertexts under ``root/<envelope id>/<index>``.

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
        directory.mkdir(exist_ok=False)
        try:
            for index, data in enumerate(attachments):
                tmp = directory / f"{index}.tmp"
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, directory / str(index))
            _fsync_dir(directory)
            _fsync_dir(self.root)
        except OSError:
            self.delete(envelope_id)
            raise

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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_envelope(
    session: Session,
    blobs: BlobStore,
    sealed: SealedEnvelope,
    recipient_of_key: Mapping[str, str],
    receipt_hash: str | None = None,
) -> Envelope:
    """Durably store a sealed envelope and return its committed row.

    Args:
        session: a session with no pending work; it is committed here.
        blobs: where attachment ciphertexts go.
        sealed: the envelope (its header is parsed and checked again).
        recipient_of_key: key id → recipient id of every key the intake
            knows; a recipient key id not in it is refused.
        receipt_hash: the keyed hash of the reporter's receipt, committed in
            the same transaction as the envelope.

    Raises:
        StoreError: the disk or the database failed; nothing is left that a
            console would ingest.
        MalformedEnvelopeError: the header is not valid v1.
    """
    header: Header = parse_header(sealed.header)
    unknown = [k for k in header.key_ids if k not in recipient_of_key]
    if unknown:
        raise StoreError("the envelope names a key this intake does not know")
    try:
        blobs.write(header.envelope_id, sealed.attachments)
    except OSError as exc:
        raise StoreError(f"could not write attachments ({exc.__class__.__name__})") from exc
    row = Envelope(
        envelope_id=header.envelope_id,
        day=header.day,
        sealed_by=header.sealed_by,
        header=sealed.header,
        body=sealed.body,
        attachment_sizes=",".join(str(len(a)) for a in sealed.attachments),
    )
    row.recipients = [EnvelopeRecipient(key_id=k, recipient_id=recipient_of_key[k]) for k in header.key_ids]
    if receipt_hash is not None:
        row.receipts = [ReceiptRecord(receipt_hash=receipt_hash)]
    try:
        session.add(row)
        session.commit()
    except Exception as exc:
        session.rollback()
        blobs.delete(header.envelope_id)
        raise StoreError(f"could not commit the envelope ({exc.__class__.__name__})") from exc
    return row


def remove_orphans(session: Session, blobs: BlobStore) -> int:
    """Delete blob directories that have no committed envelope row (left by a
    crash between blob write and commit). Returns how many were removed."""
    known = set(session.scalars(select(Envelope.envelope_id)))
    removed = 0
    for envelope_id in blobs.envelope_ids():
        if envelope_id not in known:
            with contextlib.suppress(ValueError):
                blobs.delete(envelope_id)
                removed += 1
    return removed


def today_utc() -> date:
    """The current UTC day: the only time the intake records."""
    from datetime import UTC, datetime

    return datetime.now(UTC).date()
