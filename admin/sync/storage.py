"""Storing what a sync opened: a page's case and quarantine rows with their
attachments and alarms, and the cursor after them, in one transaction
(:func:`store_page`); the cursor (:func:`get_cursor`, :func:`rescan`); and
which envelope ids are already here (:func:`known_ids`).

Speed (``bench/console.py``): a page is written with one multi-row INSERT
per table (no ORM unit of work), and ids already here are found with one
query per page.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Table,
    bindparam,
    delete,
    insert,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import Database
from core.files import fsync_dir

from ..alarms.service import raise_alarm
from ..errors import SyncBusyError
from ..models import Base, Case, CaseAttachment, PurgedEnvelope, Quarantine, SyncState
from .opening import CaseRow, QuarantineRow

SOURCE = "intake"


@dataclass
class SyncResult:
    """Counts of one sync: envelopes stored, quarantined, and skipped
    because they were already here."""

    added: int = 0
    quarantined: int = 0
    skipped: int = 0
    #: The alarms this sync raised (their details: fingerprints, no ids),
    #: e.g. an envelope sealed to a key outside the pinned roster.
    alarms: list[str] = field(default_factory=list)

    def counts(self) -> str:
        """``added=N quarantined=N skipped=N``, as the audit log has them."""
        return f"added={self.added} quarantined={self.quarantined} skipped={self.skipped}"

    def __str__(self) -> str:
        return f"added {self.added}, quarantined {self.quarantined}, skipped {self.skipped}"


def get_cursor(db: Database) -> int:
    """The last intake seq handled (0 before the first sync)."""
    with db.session() as session:
        state = session.get(SyncState, SOURCE)
        return state.cursor if state is not None else 0


def rescan(db: Database) -> None:
    """Move the cursor back to the start, so the next sync lists every
    envelope the intake has for this organization again: those already
    stored, quarantined or purged are skipped by id, anything new is
    stored. For after the intake was restored from a backup, when new
    envelopes may get seq numbers the cursor has already passed
    (docs/deployment.md, "Backups")."""
    with db.session() as session:
        session.execute(update(_table(SyncState)).where(_table(SyncState).c.name == SOURCE).values(cursor=0))


@dataclass
class Batch:
    """What one page leaves to commit: its rows, the cursor after them, and
    how many of its envelopes were skipped (already here)."""

    cursor: int
    rows: list[CaseRow | QuarantineRow] = field(default_factory=list)
    skipped: int = 0
    #: Ids of envelopes in quarantine that this page opens again (rescan):
    #: their old quarantine rows go when the page's rows are stored.
    retried: set[str] = field(default_factory=set)


def _set_cursor(session: Session, seq: int) -> None:
    """Move the cursor forward to ``seq`` (never back), in the caller's
    transaction: one UPDATE, an INSERT the first time."""
    table = _table(SyncState)
    moved = session.connection().execute(
        update(table).where(table.c.name == SOURCE, table.c.cursor < seq).values(cursor=seq)
    )
    if moved.rowcount == 0 and session.get(SyncState, SOURCE) is None:
        session.add(SyncState(name=SOURCE, cursor=seq))


def known_ids(db: Database, ids: Sequence[str], *, with_quarantine: bool = True) -> set[str]:
    """Which of ``ids`` are already here: stored, quarantined (unless
    ``with_quarantine`` is False: a rescan retries those), or purged by
    retention (never added again, admin/operations/retention.py). One query per page."""
    query = _KNOWN if with_quarantine else _KNOWN_NOT_QUARANTINED
    with db.session() as session:
        return {envelope_id for envelope_id in session.scalars(query, {"ids": ids}) if envelope_id}


def quarantined_ids(db: Database, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are in quarantine."""
    with db.session() as session:
        return {
            i
            for i in session.scalars(select(Quarantine.envelope_id).where(Quarantine.envelope_id.in_(ids)))
            if i
        }


# Built once: SQLAlchemy then only expands the id list on each page.
_IDS: BindParameter[str] = bindparam("ids", expanding=True)
_KNOWN: CompoundSelect[Any] = union_all(
    select(Case.envelope_id).where(Case.envelope_id.in_(_IDS)),
    select(Quarantine.envelope_id).where(Quarantine.envelope_id.in_(_IDS)),
    select(PurgedEnvelope.envelope_id).where(PurgedEnvelope.envelope_id.in_(_IDS)),
)
_KNOWN_NOT_QUARANTINED: CompoundSelect[Any] = union_all(
    select(Case.envelope_id).where(Case.envelope_id.in_(_IDS)),
    select(PurgedEnvelope.envelope_id).where(PurgedEnvelope.envelope_id.in_(_IDS)),
)


def store_page(db: Database, batch: Batch, result: SyncResult, blobs: Path | None = None) -> None:
    """Store a page's rows and move the cursor to ``batch.cursor``, all in
    one transaction: after a crash either the whole page is here with the
    cursor after it, or none of it and the cursor before it. The counts in
    ``result`` move only once the rows are committed."""
    rows = batch.rows
    if not rows and not batch.skipped:
        return  # an empty page: nothing to store, the cursor stays
    if blobs is not None and any(isinstance(row, CaseRow) and row.attachments for row in rows):
        # The blobs were fsynced one by one; their names (the renames) are
        # made durable here, once per page, before the rows that point at them.
        fsync_dir(blobs)
    try:
        with db.session() as session:
            _forget_quarantined(session, batch)
            _insert(session, rows)
            _raise_alarms(session, rows)
            _set_cursor(session, batch.cursor)
    except IntegrityError:
        # Another process stored some of these meanwhile: one by one.
        for row in rows:
            _store_one(db, row, result, retried=row.envelope_id in batch.retried)
        with db.session() as session:
            _set_cursor(session, batch.cursor)
    else:
        for row in rows:
            _count(result, row)
    result.skipped += batch.skipped


def _forget_quarantined(session: Session, batch: Batch) -> None:
    """Drop the quarantine rows of the envelopes ``batch`` opened again
    (rescan): each is stored anew by the same transaction, as a case or,
    failing again, as one quarantine row with the latest reason."""
    if batch.retried:
        session.execute(delete(_table(Quarantine)).where(_table(Quarantine).c.envelope_id.in_(batch.retried)))


#: Tries to store one row whose alarm's audit entry met another
#: transaction's (both computed the same audit seq, admin/audit/log.py).
ROW_TRIES = 5


def _store_one(
    db: Database, row: CaseRow | QuarantineRow, result: SyncResult, *, retried: bool = False
) -> None:
    """Store one row of a page that did not commit whole. An IntegrityError
    means the envelope is here already (another process stored it), or,
    for a row with an alarm, that its audit entry raced another one: then
    it is tried again, never skipped, since skipping it would move the
    cursor past an envelope that is nowhere. ``retried``: the envelope was
    in quarantine (rescan), and its old row goes in the same transaction.

    Raises:
        SyncBusyError: the row could not be stored after :data:`ROW_TRIES`
            tries (the cursor stays before it).
    """
    for attempt in range(ROW_TRIES):
        try:
            with db.session() as session:
                if retried:
                    _forget_quarantined(session, Batch(0, retried={str(row.envelope_id)}))
                _insert(session, [row])
                _raise_alarms(session, [row])
        except IntegrityError:
            if isinstance(row, CaseRow) and known_ids(db, [row.envelope_id]):
                result.skipped += 1
                return
            time.sleep(0.05 * (attempt + 1))
        else:
            _count(result, row)
            return
    raise SyncBusyError("the console's database stayed busy while storing an envelope; sync again")


def _raise_alarms(session: Session, rows: Sequence[CaseRow | QuarantineRow]) -> None:
    """Raise the alarms of quarantined rows in the transaction that stores
    them: an envelope is never quarantined without its alarm."""
    for row in rows:
        if isinstance(row, QuarantineRow) and row.alarm is not None:
            raise_alarm(session, *row.alarm)


def _count(result: SyncResult, row: CaseRow | QuarantineRow) -> None:
    if isinstance(row, CaseRow):
        result.added += 1
    else:
        result.quarantined += 1
        if row.alarm is not None and row.alarm[1] not in result.alarms:
            result.alarms.append(row.alarm[1])


def _insert(session: Session, batch: Sequence[CaseRow | QuarantineRow]) -> None:
    """INSERT the rows of ``batch``: one statement per table, not one per row.

    Raises:
        IntegrityError: an envelope id is already stored (a concurrent sync).
    """
    cases = [row for row in batch if isinstance(row, CaseRow)]
    quarantined = [row.columns() for row in batch if isinstance(row, QuarantineRow)]
    # Core statements with a list of rows run as one executemany; the ORM
    # would instead flush objects one by one.
    if cases:
        session.execute(insert(_table(Case)), [row.columns() for row in cases])
        with_files = {row.envelope_id: row for row in cases if row.attachments}
        if with_files:
            # The new ids, for the attachments' case_id.
            found = session.execute(select(Case.envelope_id, Case.id).where(Case.envelope_id.in_(with_files)))
            attachments = [
                {
                    "case_id": case_id,
                    "position": a.position,
                    "ciphertext_size": a.ciphertext_size,
                    "blob": a.blob,
                    "meta_ct": a.meta_ct,
                }
                for envelope_id, case_id in found
                for a in with_files[envelope_id].attachments
            ]
            session.execute(insert(_table(CaseAttachment)), attachments)
    if quarantined:
        session.execute(insert(_table(Quarantine)), quarantined)


def _table(model: type[Base]) -> Table:
    return model.metadata.tables[model.__tablename__]
