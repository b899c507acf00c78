"""The envelope store: an envelope's rows in the database, committed
after its attachment ciphertexts are durable in the intake's
:class:`~intake.store.blobs.BlobStore` (see :mod:`intake.store.blobs` for the write
order, invariant 5: "acknowledged means durable").

Duplicate POSTs (a double click, Back and resubmit, a reload of the receipt
page) carry the same one-time submission token; :func:`store_envelope` keeps
its keyed hash in a unique column and refuses a second envelope with it
(:class:`DuplicateSubmissionError`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, insert, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from core.envelope import Header, SealedEnvelope, parse_header
from core.timing import today_utc

from .blobs import BlobStore
from .models import Envelope, EnvelopeBlob, EnvelopeRecipient, ReceiptRecord, SpentChallenge


class StoreError(Exception):
    """The envelope could not be stored (disk, database); nothing was
    acknowledged."""


class DuplicateSubmissionError(Exception):
    """An envelope with this submission token is stored already: the same
    form was posted twice. Nothing new was stored; show "already received",
    never a second receipt."""


class ChallengeSpentError(Exception):
    """The proof-of-work challenge recorded with this envelope
    (``store_envelope(spent=...)``) was spent by another request first:
    nothing was stored."""


class FollowupQuotaError(Exception):
    """The follow-up would take its report past the daily quota
    (``store_envelope(followup_quota=...)``): nothing was stored."""


def submission_exists(session: Session, submission_hash: str) -> bool:
    """Whether an envelope with this submission token hash is stored."""
    found = session.scalar(select(Envelope.seq).where(Envelope.submission_hash == submission_hash))
    return found is not None


#: The tables :func:`_insert_envelope_rows` writes, and its statements, built
#: once (a statement costs more to build than to run on SQLite).
_ENVELOPE: Table = Envelope.__table__  # type: ignore[assignment]
_RECIPIENT: Table = EnvelopeRecipient.__table__  # type: ignore[assignment]
_RECEIPT: Table = ReceiptRecord.__table__  # type: ignore[assignment]
_BLOB: Table = EnvelopeBlob.__table__  # type: ignore[assignment]
_SPENT: Table = SpentChallenge.__table__  # type: ignore[assignment]
_INSERT_SPENT = insert(_SPENT)
_INSERT_ENVELOPE = insert(_ENVELOPE)

#: PostgreSQL advisory lock held from an envelope's INSERT to its commit.
#: Consoles read "after the last seq they stored", so envelopes must become
#: visible in seq order. A sequence hands out numbers at INSERT time; with
#: several workers, an upload that took seq 10 and is still writing its
#: attachment rows could commit after seq 11, which a console may already
#: have listed and passed: seq 10 would never be synced. Under this lock
#: seq allocation and commit happen one upload at a time (SQLite's single
#: writer lock does the same there).
SEQ_ORDER_LOCK = 0x746E7231  # "tnr1"
_TAKE_SEQ_ORDER_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=SEQ_ORDER_LOCK)
_INSERT_RECIPIENT = insert(_RECIPIENT)
_INSERT_RECEIPT = insert(_RECEIPT)
_INSERT_BLOB = insert(_BLOB)


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]] | dict[str, Any]:
    # One row: a plain execute, cheaper than the DB-API's executemany.
    return rows[0] if len(rows) == 1 else rows


def store_envelope(
    session: Session,
    blobs: BlobStore,
    sealed: SealedEnvelope,
    recipient_of_key: Mapping[str, str],
    *,
    receipt_hash: str | None = None,
    submission_hash: str | None = None,
    followup_of: int | None = None,
    submission_checked: bool = False,
    header: Header | None = None,
    spent: tuple[str, date] | None = None,
    followup_quota: tuple[int, int] | None = None,
) -> int:
    """Durably store a sealed envelope and return its committed ``seq``:
    the one entry point of every path that stores (the no-JavaScript form,
    the browser upload, follow-ups, the console's interviews).

    The checks come first (the header names only keys the intake knows;
    the submission token is not stored already), then the attachments are
    staged in ``blobs``, then the rows (:func:`_insert_envelope_rows`) go
    in with Core statements in one transaction, back to back, and are
    committed with ``session.commit()``; on SQLite that keeps the write
    lock, which every writer waits for, as short as the inserts
    themselves. No ORM row is made (one object and the unit of work less
    per report): read it back by ``seq`` if you need one.

    Args:
        session: a session with no pending work; it is committed here.
        blobs: where attachment ciphertexts go.
        sealed: the envelope (its header is parsed and checked again,
            unless ``header`` is given).
        recipient_of_key: key id → recipient id of every key the intake
            knows; a recipient key id not in it is refused.
        receipt_hash: the keyed hash of the reporter's receipt, committed in
            the same transaction as the envelope.
        submission_hash: the keyed hash
            (:func:`core.receipts.submission_hash`) of the one-time token
            the form carried. The same token twice stores one envelope: the
            second call raises :class:`DuplicateSubmissionError`, also when
            both race (the column is unique). Every submission path (the
            no-JS form, the browser-sealed upload) should send one.
        followup_of: the ``seq`` of the report this envelope follows up
            (found through the reporter's receipt); None for a report.
        submission_checked: the caller has just looked ``submission_hash``
            up and found no envelope, so the look-up before the insert is
            skipped (one query less per report). The unique column still
            refuses a second envelope with it, raised as
            :class:`DuplicateSubmissionError` as before.
        header: ``sealed.header`` parsed already by the caller (the upload
            checks it before storing; its ``raw`` must be those bytes);
            None to parse it here.
        spent: ``(challenge hash, keep-until day)`` of the proof-of-work
            challenge the upload carried (intake/abuse/proofofwork.py),
            recorded as spent in this same transaction: one commit per
            report, and a challenge that another request spent first
            stores nothing.
        followup_quota: ``(count, bytes)`` a follow-up's report may hold
            in follow-ups dated within a day of this one, this one
            included; checked after the inserts, under the write lock
            (SQLite) or the ordering lock (PostgreSQL), so that parallel
            follow-ups cannot pass it together.

    Returns:
        the committed envelope's ``seq``.

    Raises:
        DuplicateSubmissionError: this token was stored already; nothing new
            is stored and the caller must not show a receipt.
        ChallengeSpentError: ``spent`` was recorded by another request
            first; nothing stored.
        FollowupQuotaError: over ``followup_quota``; nothing stored.
        StoreError: the disk or the database failed, or the header names a
            key the intake does not know; nothing is left that a console
            would ingest.
        MalformedEnvelopeError: the header is not valid v1.
        ValueError: ``header`` is not the parse of ``sealed.header`` (a
            caller's mistake).
    """
    rows = _EnvelopeRows(
        header=_checked_header(sealed, header, recipient_of_key),
        sealed=sealed,
        recipient_of_key=recipient_of_key,
        receipt_hash=receipt_hash,
        submission_hash=submission_hash,
        followup_of=followup_of,
    )
    envelope_id = rows.header.envelope_id
    if submission_hash is not None and not submission_checked:
        _refuse_stored_submission(session, submission_hash)
    try:
        in_database = blobs.stage(envelope_id, sealed.attachments)
    except OSError as exc:
        raise StoreError(f"could not write attachments ({exc.__class__.__name__})") from exc
    try:
        conn = session.connection()
        _begin_insert(conn, spent)
        seq = _insert_envelope_rows(conn, rows, in_database)
        if followup_of is not None and followup_quota is not None:
            _check_followup_quota(conn, followup_of, rows.header.day, followup_quota)
        session.commit()
    except Exception as exc:
        session.rollback()
        if sealed.attachments:
            # Only what stage() made for this call: with no attachments it
            # made nothing, and a folder of that name (an envelope with the
            # same id, which is why the insert failed) is not ours to remove.
            blobs.discard(envelope_id)
        if isinstance(exc, FollowupQuotaError):
            raise
        raise _commit_error(session, exc, spent, submission_hash) from exc
    return seq


@dataclass(frozen=True)
class _EnvelopeRows:
    """What an envelope's rows are made of, checked by :func:`store_envelope`:
    its parsed header, its bytes, the recipient of each key it names, and
    the hashes and report it is stored with (see there)."""

    header: Header
    sealed: SealedEnvelope
    recipient_of_key: Mapping[str, str]
    receipt_hash: str | None
    submission_hash: str | None
    followup_of: int | None


def _checked_header(
    sealed: SealedEnvelope, header: Header | None, recipient_of_key: Mapping[str, str]
) -> Header:
    """``sealed``'s parsed header (``header`` if given and it is that
    parse), refused with StoreError if it names a key the intake does not
    know."""
    if header is None:
        header = parse_header(sealed.header)
    elif header.raw != sealed.header:
        raise ValueError("header is not the parsed form of sealed.header")
    unknown = [k for k in header.key_ids if k not in recipient_of_key]
    if unknown:
        raise StoreError("the envelope names a key this intake does not know")
    return header


def _refuse_stored_submission(session: Session, submission_hash: str) -> None:
    """Raise DuplicateSubmissionError if this token is stored already
    (StoreError if the database cannot be read)."""
    try:
        seen = submission_exists(session, submission_hash)
    except Exception as exc:
        session.rollback()
        raise StoreError(f"could not read the database ({exc.__class__.__name__})") from exc
    if seen:
        raise DuplicateSubmissionError("this form was submitted already")


def _begin_insert(conn: Connection, spent: tuple[str, date] | None) -> None:
    """Record the spent challenge, if any, then take the ordering lock."""
    if spent is not None:
        # First, and before the ordering lock (it needs no order, and
        # the lock serializes every upload): a challenge spent by a
        # racing request fails here, before anything else is written.
        conn.execute(_INSERT_SPENT, {"challenge_hash": spent[0], "keep_until": spent[1]})
    if conn.dialect.name == "postgresql":
        conn.execute(_TAKE_SEQ_ORDER_LOCK)  # released by the commit or rollback


def _insert_envelope_rows(conn: Connection, rows: _EnvelopeRows, in_database: Sequence[bytes]) -> int:
    """Insert the envelope row, then the rows that hang off it (its
    recipients, its receipt hash, its blobs when they live in the
    database), on ``conn`` without committing, and return its ``seq``."""
    header, sealed = rows.header, rows.sealed
    result = conn.execute(
        _INSERT_ENVELOPE,
        {
            "envelope_id": header.envelope_id,
            "day": header.day,
            "sealed_by": header.sealed_by,
            "header": sealed.header,
            "body": sealed.body,
            "attachment_sizes": ",".join(str(len(a)) for a in sealed.attachments),
            "submission_hash": rows.submission_hash,
            "followup_of": rows.followup_of,
        },
    )
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover (every dialect here reports it)
        raise StoreError("the database did not report the new envelope's seq")
    seq = int(key[0])
    conn.execute(
        _INSERT_RECIPIENT,
        _rows(
            [
                {"envelope_seq": seq, "key_id": k, "recipient_id": rows.recipient_of_key[k]}
                for k in header.key_ids
            ]
        ),
    )
    if rows.receipt_hash is not None:
        conn.execute(_INSERT_RECEIPT, {"receipt_hash": rows.receipt_hash, "envelope_seq": seq})
    if in_database:
        conn.execute(
            _INSERT_BLOB,
            _rows([{"envelope_seq": seq, "position": i, "data": data} for i, data in enumerate(in_database)]),
        )
    return seq


def _commit_error(
    session: Session, exc: Exception, spent: tuple[str, date] | None, submission_hash: str | None
) -> Exception:
    """The error to raise for a failed insert or commit (``session`` rolled
    back): ChallengeSpentError or DuplicateSubmissionError when a racing
    request won the unique column, else StoreError."""
    if isinstance(exc, IntegrityError) and spent is not None and _spent_already(session, spent[0]):
        return ChallengeSpentError("this proof of work was spent already")
    if isinstance(exc, IntegrityError) and submission_hash is not None:
        # Lost a race with the same form posted twice at once?
        try:
            duplicate = submission_exists(session, submission_hash)
        except SQLAlchemyError:
            duplicate = False
        finally:
            session.rollback()
        if duplicate:
            return DuplicateSubmissionError("this form was submitted already")
    return StoreError(f"could not commit the envelope ({exc.__class__.__name__})")


_FOLLOWUPS_NEAR = select(
    func.length(_ENVELOPE.c.header) + func.length(_ENVELOPE.c.body), _ENVELOPE.c.attachment_sizes
).where(
    _ENVELOPE.c.followup_of == bindparam("report"),
    _ENVELOPE.c.day.between(bindparam("first"), bindparam("last")),
)


def followups_near(conn: Any, report: int, day: date) -> tuple[int, int]:
    """``(count, bytes)`` of the follow-ups of ``report`` dated within a day
    of ``day``: their number and stored bytes (header, body, attachments)."""
    rows = conn.execute(
        _FOLLOWUPS_NEAR, {"report": report, "first": day - timedelta(days=1), "last": day + timedelta(days=1)}
    ).all()
    return len(rows), sum(int(size) + sum(int(s) for s in sizes.split(",") if s) for size, sizes in rows)


def followup_quota_left(session: Session, report: int, size: int, quota: tuple[int, int]) -> bool:
    """Whether one more follow-up of ``size`` bytes fits ``report``'s daily
    quota now: the cheap look before a follow-up may take from the shared
    allowance (the insert checks again, under the write lock)."""
    count, stored = followups_near(session.connection(), report, today_utc())
    session.rollback()  # read only
    return count < quota[0] and stored + size <= quota[1]


def _check_followup_quota(conn: Any, report: int, day: date, quota: tuple[int, int]) -> None:
    """Raise FollowupQuotaError when the report's follow-ups dated within a
    day of ``day`` (the one just inserted included) exceed ``quota``."""
    count, stored = followups_near(conn, report, day)
    if count > quota[0] or stored > quota[1]:
        raise FollowupQuotaError("the report's follow-ups for today are over the quota")


def _spent_already(session: Session, challenge_hash: str) -> bool:
    """Whether the challenge is recorded as spent (after a failed insert:
    did a racing request spend it?). A database that cannot answer says
    no, and the failure stays a StoreError; any other error is a bug and
    propagates."""
    try:
        found = session.scalar(
            select(_SPENT.c.challenge_hash).where(_SPENT.c.challenge_hash == challenge_hash)
        )
    except SQLAlchemyError:
        found = None  # unknown: the caller reports a StoreError
    finally:
        session.rollback()
    return found is not None


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
