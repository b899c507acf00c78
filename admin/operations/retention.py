"""Retention and purge: closed cases older than ``RETENTION_DAYS_CLOSED``
are removed from the console, and the intake is asked to delete their
envelopes.

Per case, in this order:

1. ``DELETE /api/v1/envelopes/<id>`` at the intake. It removes this
   organization's recipient entry; when no organization is left it deletes
   the envelope, its receipt hash and its attachment blobs, and answers
   ``{"deleted": true|false, "remaining_recipients": n}``. A 404 means the
   intake no longer has it for us (an earlier purge got that far).
2. Only after the intake confirmed (200 or 404): in one transaction, the
   case row, its attachments' rows, notes, tags and coding go, a tombstone
   (envelope id and day, :class:`~admin.models.PurgedEnvelope`) is written so
   a later sync never adds the envelope again, and the outcome is audited.
   Then the sealed blobs are removed from ``DATA_DIR/blobs``.

If the intake cannot be reached, the case stays (audited as
``case.purge_failed``) and the next purge tries again; a refused token stops
the run. A case's follow-ups (cases whose ``follows`` names it) go with it,
each its own envelope, before it.

Not removed: the audit log (it names envelope ids and codes, never
content) and briefing records (``coded_cases``: codes only, imported or
confirmed for statistics; delete them with the briefing tools).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from core.db import Database

from ..attachments.blobs import blob_dir
from ..audit import log as audit
from ..errors import IntakeAuthError, IntakeError
from ..models import (
    Case,
    CaseAttachment,
    CaseCoding,
    CaseCodingCommunity,
    CaseCodingTactic,
    CaseLink,
    CaseNote,
    CaseTag,
    CaseVignette,
    PurgedEnvelope,
)
from ..sync.client import IntakeClient


@dataclass(frozen=True)
class PurgeOutcome:
    """What happened to one envelope: ``intake`` is ``deleted`` (the intake
    removed the envelope), ``kept`` (only our recipient entry went; other
    organizations hold it), ``absent`` (404) or ``failed`` (not reachable:
    nothing removed here)."""

    envelope_id: str
    intake: str
    remaining_recipients: int | None = None


@dataclass
class PurgeResult:
    """The envelopes due (dry run: what would go) and each outcome."""

    due: list[str] = field(default_factory=list)
    outcomes: list[PurgeOutcome] = field(default_factory=list)

    @property
    def purged(self) -> int:
        return sum(1 for o in self.outcomes if o.intake != "failed")

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.intake == "failed")


def _today() -> date:
    return datetime.now(UTC).date()


def due_cases(session: Session, retention_days: int, today: date | None = None) -> list[str]:
    """Envelope ids to purge, follow-ups before the case they add to:
    closed cases whose ``closed_day`` is ``retention_days`` or more days
    ago, and their follow-ups (whatever their status). None when
    ``retention_days`` is 0 (keep forever)."""
    if retention_days <= 0:
        return []
    cutoff = (today or _today()) - timedelta(days=retention_days)
    closed = list(
        session.scalars(
            select(Case.envelope_id)
            .where(Case.status == "closed", Case.closed_day.is_not(None), Case.closed_day <= cutoff)
            .order_by(Case.seq)
        )
    )
    ordered: list[str] = []
    seen: set[str] = set()
    for envelope_id in closed:
        followups = session.scalars(
            select(Case.envelope_id).where(Case.follows == envelope_id).order_by(Case.seq)
        )
        for item in [*followups, envelope_id]:
            if item not in seen:
                seen.add(item)
                ordered.append(item)
    return ordered


def remove_case(session: Session, envelope_id: str, today: date | None = None) -> list[str]:
    """Delete a case and everything of it from the console database and
    write its tombstone (the caller audits and commits). Returns the blob
    file names to remove after the commit."""
    case = session.scalar(select(Case).where(Case.envelope_id == envelope_id))
    blobs: list[str] = []
    if case is not None:
        blobs = list(session.scalars(select(CaseAttachment.blob).where(CaseAttachment.case_id == case.id)))
        # Explicit, child tables first: not every database enforces ON DELETE.
        session.execute(delete(CaseCodingTactic).where(CaseCodingTactic.case_id == case.id))
        session.execute(delete(CaseCodingCommunity).where(CaseCodingCommunity.case_id == case.id))
        session.execute(delete(CaseCoding).where(CaseCoding.case_id == case.id))
        session.execute(delete(CaseNote).where(CaseNote.case_id == case.id))
        session.execute(
            delete(CaseLink).where(or_(CaseLink.case_id == case.id, CaseLink.other_id == case.id))
        )
        session.execute(delete(CaseVignette).where(CaseVignette.case_id == case.id))
        session.execute(delete(CaseTag).where(CaseTag.case_id == case.id))
        session.execute(delete(CaseAttachment).where(CaseAttachment.case_id == case.id))
        session.execute(delete(Case).where(Case.id == case.id))
    if session.get(PurgedEnvelope, envelope_id) is None:
        session.add(PurgedEnvelope(envelope_id=envelope_id, day=today or _today()))
    return blobs


def purge(
    db: Database,
    data_dir: Path,
    client: IntakeClient | None,
    retention_days: int,
    *,
    actor: str = "cli",
    dry_run: bool = False,
    today: date | None = None,
    progress: Callable[[PurgeOutcome], None] | None = None,
) -> PurgeResult:
    """Purge every case due (see the module doc).

    Raises:
        IntakeAuthError: the intake refused the token (what was purged
            before stays purged).
    """
    result = PurgeResult()
    with db.session() as session:
        result.due = due_cases(session, retention_days, today)
    if dry_run or not result.due:
        return result
    if client is None:
        raise IntakeError(
            "set ADMIN_INTAKE_URL and ADMIN_INTAKE_TOKEN: the intake must confirm each deletion"
        )
    for envelope_id in result.due:
        outcome = _purge_one(db, data_dir, client, envelope_id, actor, today)
        result.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    with db.session() as session:
        audit.record(
            session,
            actor,
            audit.Action.PURGE_RUN,
            None,
            f"days={retention_days} purged={result.purged} failed={result.failed}",
        )
    return result


def _purge_one(
    db: Database, data_dir: Path, client: IntakeClient, envelope_id: str, actor: str, today: date | None
) -> PurgeOutcome:
    try:
        answer = client.delete_envelope(envelope_id)
    except IntakeAuthError:
        raise
    except IntakeError as exc:
        with db.session() as session:
            audit.record(session, actor, audit.Action.PURGE_FAILED, envelope_id, exc.__class__.__name__)
        return PurgeOutcome(envelope_id, "failed")
    if answer is None:
        outcome = PurgeOutcome(envelope_id, "absent")
    else:
        deleted, remaining = answer
        outcome = PurgeOutcome(envelope_id, "deleted" if deleted else "kept", remaining)
    with db.session() as session:
        blobs = remove_case(session, envelope_id, today)
        detail = f"intake={outcome.intake}"
        if outcome.remaining_recipients is not None:
            detail += f" remaining={outcome.remaining_recipients}"
        audit.record(session, actor, audit.Action.PURGE, envelope_id, detail + f" blobs={len(blobs)}")
    for name in blobs:
        (blob_dir(data_dir) / name).unlink(missing_ok=True)
    return outcome


def tombstones(session: Session) -> Sequence[PurgedEnvelope]:
    """Every purge tombstone, by day."""
    return session.scalars(
        select(PurgedEnvelope).order_by(PurgedEnvelope.day, PurgedEnvelope.envelope_id)
    ).all()
