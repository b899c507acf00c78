"""Triage: disposition, urgency, tags, assignment, internal notes, the
reviewer's TNR coding, and the inbox query with its filters.

Storage decisions:

- Disposition, urgency, assignee, tags and the coding are stored in clear
  in the console database, because the inbox filters and sorts on them
  with indexes (100,000 cases) and briefings count the codes. They are
  codes and reviewer labels, never text a reporter wrote. Accepted: a
  stolen console database shows each case's codes (not its story).
- Internal notes are free text about a person, so they are encrypted under the
  data key like the report (:func:`admin.keys.custody.encrypt_field`, bound to the
  envelope id and ``note/<uid>``) and readable only while the key is
  unlocked.
- The reviewer's coding (:class:`Coding`) is separate from what the
  reporter ticked, which stays inside the sealed report.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from .. import taxonomy
from ..keys.custody import UnlockedKeyring, decrypt_field, encrypt_field
from ..models import (
    DISPOSITIONS,
    Case,
    CaseCoding,
    CaseCodingCommunity,
    CaseCodingTactic,
    CaseNote,
    CaseReply,
    CaseTag,
    User,
)
from .service import narrative_snippet

TAG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
MONTH_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
#: The earliest incident month a coding takes: a year before it is a typo.
EARLIEST_MONTH = "1950-01"
MAX_TAGS = 12


class TriageError(ValueError):
    """A triage value is not allowed (unknown code, bad tag or month).
    ``str(exc)`` is the reason for the reviewer in the console's language:
    the argument is a lazy gettext string, translated when it is shown."""


def _today() -> date:
    return datetime.now(UTC).date()


# --------------------------------------------------------------------------
# Disposition, urgency, tags, assignment


def parse_tags(text: str) -> list[str]:
    """Tags from space- or comma-separated text: lower case, ``[a-z0-9-]``,
    at most 32 characters each and :data:`MAX_TAGS` in all, sorted, unique.

    Raises:
        TriageError: a tag has other characters, or too many.
    """
    tags = sorted({t.strip().lower() for t in re.split(r"[\s,]+", text) if t.strip()})
    for tag in tags:
        if not TAG_RE.fullmatch(tag):
            raise TriageError(_l("Tags may use a-z, 0-9 and - only, up to 32 characters each."))
    if len(tags) > MAX_TAGS:
        raise TriageError(_l("At most %(count)d tags.", count=MAX_TAGS))
    return tags


def tags_of(session: Session, case: Case) -> list[str]:
    """The case's tags, sorted."""
    return list(session.scalars(select(CaseTag.tag).where(CaseTag.case_id == case.id).order_by(CaseTag.tag)))


def update_case(session: Session, case: Case, *, status: str, urgent: bool, tags: Sequence[str]) -> str:
    """Set disposition, urgency and tags. The caller audits and commits.

    Returns:
        A short description of what changed (codes and tags only), empty
        when nothing did.

    Raises:
        TriageError: unknown status.
    """
    if status not in DISPOSITIONS:
        raise TriageError(_l("Choose a disposition."))
    changes: list[str] = []
    if case.status != status:
        changes.append(f"status={status}")
        case.status = status
        # Retention counts from the day a case was closed (admin/operations/retention.py).
        case.closed_day = _today() if status == "closed" else None
    if bool(case.urgent) != urgent:
        changes.append(f"urgent={int(urgent)}")
        case.urgent = urgent
    old = set(tags_of(session, case))
    new = set(tags)
    for tag in sorted(new - old):
        session.add(CaseTag(case_id=case.id, tag=tag))
    if old - new:
        session.execute(delete(CaseTag).where(CaseTag.case_id == case.id, CaseTag.tag.in_(old - new)))
    if new != old:
        changes.append(
            "tags=" + ",".join([f"+{t}" for t in sorted(new - old)] + [f"-{t}" for t in sorted(old - new)])
        )
    return " ".join(changes)


def assign(session: Session, case: Case, assignee: User | None) -> None:
    """Assign the case to ``assignee`` (None: nobody). The caller audits and
    commits."""
    case.assignee_id = assignee.id if assignee is not None else None


def assignable_users(session: Session) -> list[User]:
    """Active accounts a case can be assigned to, by e-mail."""
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.email)))


# --------------------------------------------------------------------------
# Notes


@dataclass(frozen=True)
class Note:
    """A decrypted internal note."""

    uid: str
    day: date
    author: str
    body: str


def add_note(session: Session, case: Case, keyring: UnlockedKeyring, author: User, body: str) -> CaseNote:
    """Seal ``body`` under the data key and store it. The caller audits and
    commits.

    Raises:
        KeyLockedError: locked. TriageError: empty.
    """
    body = body.strip()
    if not body:
        raise TriageError(_l("Write the note first (at most 20,000 characters)."))
    uid = secrets.token_hex(16)
    note = CaseNote(
        uid=uid,
        case_id=case.id,
        author_id=author.id,
        day=_today(),
        body_ct=encrypt_field(keyring.data_key(), case.envelope_id, f"note/{uid}", body.encode("utf-8")),
    )
    session.add(note)
    return note


def sealed_texts(
    session: Session,
    model: type[CaseNote] | type[CaseReply],
    case: Case,
    keyring: UnlockedKeyring,
    field: str,
) -> list[tuple[str, date, str, str]]:
    """A case's texts kept under the data key (internal notes, ``field``
    ``"note"``; the console's copies of replies, ``"reply"``), oldest first,
    as ``(uid, day, author's e-mail or "", text)``, decrypted in memory only.

    Raises:
        KeyLockedError: locked. DataKeyError: a text does not authenticate.
    """
    data_key = keyring.data_key()
    rows = session.execute(
        select(model, User.email)
        .outerjoin(User, User.id == model.author_id)
        .where(model.case_id == case.id)
        .order_by(model.id)
    ).all()
    texts: list[tuple[str, date, str, str]] = []
    for row, email in rows:
        kept = cast(CaseNote | CaseReply, row)  # a row of ``model``
        text = decrypt_field(data_key, case.envelope_id, f"{field}/{kept.uid}", kept.body_ct).decode("utf-8")
        texts.append((kept.uid, kept.day, email or "", text))
    return texts


def notes_of(session: Session, case: Case, keyring: UnlockedKeyring) -> list[Note]:
    """The case's notes, oldest first, decrypted (in memory only).

    Raises:
        KeyLockedError: locked. DataKeyError: a note does not authenticate.
    """
    return [
        Note(uid=uid, day=day, author=author, body=body)
        for uid, day, author, body in sealed_texts(session, CaseNote, case, keyring, "note")
    ]


# --------------------------------------------------------------------------
# TNR coding


@dataclass(frozen=True)
class Coding:
    """A reviewer's TNR coding: codes of :mod:`admin.taxonomy` only."""

    tactics: tuple[str, ...] = ()
    communities: tuple[str, ...] = ()
    province: str | None = None
    state: str | None = None
    attribution: str | None = None
    confidence: str | None = None
    incident_month: str | None = None

    def validate(self) -> Coding:
        """This coding, checked and normalized (sorted, unique codes).

        Raises:
            TriageError: an unknown code, or a month malformed or after
                this one (UTC).
        """
        tactics = tuple(sorted(set(self.tactics)))
        communities = tuple(sorted(set(self.communities)))
        # The form offers known codes only: another one was forged, and the
        # reviewer is told no more than the form's own message.
        unknown = TriageError(_l("The coding has an unknown value."))
        if not set(tactics) <= set(taxonomy.TACTICS):
            raise unknown
        if not set(communities) <= set(taxonomy.COMMUNITIES):
            raise unknown
        checks: Iterable[tuple[str | None, dict[str, Any]]] = (
            (self.province, taxonomy.PROVINCES),
            (self.state, taxonomy.STATES),
            (self.attribution, taxonomy.ATTRIBUTIONS),
            (self.confidence, taxonomy.CONFIDENCES),
        )
        for value, allowed in checks:
            if value is not None and value not in allowed:
                raise unknown
        if (self.attribution is None) != (self.confidence is None):
            raise TriageError(_l("Choose the attribution and confidence together, or neither."))
        month = self.incident_month or None
        if month is not None and not MONTH_RE.fullmatch(month):
            raise TriageError(_l("Write the month of the incident as YYYY-MM."))
        if month is not None and month < EARLIEST_MONTH:
            raise TriageError(
                _l("The month of the incident must be %(month)s or later.", month=EARLIEST_MONTH)
            )
        if month is not None and month > datetime.now(UTC).strftime("%Y-%m"):
            # A typo (2062 for 2026) would put the case in no briefing period.
            raise TriageError(_l("The month of the incident cannot be in the future."))
        return Coding(
            tactics, communities, self.province, self.state, self.attribution, self.confidence, month
        )

    def describe(self) -> str:
        """Codes only, for the audit log."""
        return (
            f"tactics={','.join(self.tactics)} communities={','.join(self.communities)} "
            f"province={self.province or '-'} state={self.state or '-'} "
            f"attribution={self.attribution or '-'}/{self.confidence or '-'} "
            f"month={self.incident_month or '-'}"
        )


def coding_of(session: Session, case: Case) -> Coding | None:
    """The reviewer's coding of ``case``, or None if not coded yet."""
    row = session.get(
        CaseCoding, case.id, options=[selectinload(CaseCoding.tactics), selectinload(CaseCoding.communities)]
    )
    if row is None:
        return None
    return Coding(
        tactics=tuple(t.code for t in row.tactics),
        communities=tuple(c.code for c in row.communities),
        province=row.province,
        state=row.state,
        attribution=row.attribution,
        confidence=row.confidence,
        incident_month=row.incident_month,
    )


def set_coding(session: Session, case: Case, coding: Coding, coder: User) -> Coding:
    """Store the reviewer's coding (replacing the previous one, version + 1).
    The caller audits and commits.

    Raises:
        TriageError: see :meth:`Coding.validate`.
    """
    coding = coding.validate()
    row = session.get(CaseCoding, case.id)
    if row is None:
        row = CaseCoding(case_id=case.id, version=0)
        session.add(row)
    row.attribution = coding.attribution
    row.confidence = coding.confidence
    row.state = coding.state
    row.province = coding.province
    row.incident_month = coding.incident_month
    row.coded_by = coder.id
    row.coded_day = _today()
    row.version = (row.version or 0) + 1
    row.tactics = [CaseCodingTactic(code=c) for c in coding.tactics]
    row.communities = [CaseCodingCommunity(code=c) for c in coding.communities]
    return coding


# --------------------------------------------------------------------------
# The inbox


@dataclass(frozen=True)
class InboxFilter:
    """Inbox filters; None or empty: not filtered. ``assignee``: an account
    id, or ``"none"`` for unassigned cases."""

    status: str | None = None
    urgent: bool | None = None
    assignee: int | str | None = None
    tactic: str | None = None
    community: str | None = None
    province: str | None = None
    tag: str | None = None
    day_from: date | None = None
    day_to: date | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        """Add this filter's conditions to a query over :class:`Case`.

        Follow-ups are listed on their report's case page, not in the inbox,
        unless that report is not in this console (quarantined, or sent to
        another organization only)."""
        parent = aliased(Case)
        query = query.where(
            or_(Case.follows.is_(None), ~select(parent.id).where(parent.envelope_id == Case.follows).exists())
        )
        if self.status:
            query = query.where(Case.status == self.status)
        if self.urgent is not None:
            query = query.where(Case.urgent.is_(self.urgent))
        if self.assignee == "none":
            query = query.where(Case.assignee_id.is_(None))
        elif isinstance(self.assignee, int):
            query = query.where(Case.assignee_id == self.assignee)
        if self.tactic:
            query = query.where(
                Case.id.in_(select(CaseCodingTactic.case_id).where(CaseCodingTactic.code == self.tactic))
            )
        if self.community:
            query = query.where(
                Case.id.in_(
                    select(CaseCodingCommunity.case_id).where(CaseCodingCommunity.code == self.community)
                )
            )
        if self.province:
            query = query.where(
                Case.id.in_(select(CaseCoding.case_id).where(CaseCoding.province == self.province))
            )
        if self.tag:
            query = query.where(Case.id.in_(select(CaseTag.case_id).where(CaseTag.tag == self.tag)))
        if self.day_from:
            query = query.where(Case.day >= self.day_from)
        if self.day_to:
            query = query.where(Case.day <= self.day_to)
        return query


@dataclass(frozen=True)
class InboxRow:
    """One inbox line. ``snippet`` is None when the key is locked."""

    seq: int
    envelope_id: str
    day: date
    sealed_by: str
    status: str
    urgent: bool
    assignee: str | None
    attachment_count: int
    snippet: str | None
    tags: list[str] = field(default_factory=list)


def inbox_page(
    session: Session, keyring: UnlockedKeyring, flt: InboxFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[InboxRow], int]:
    """One page (1-based) of cases matching ``flt``, urgent first, then
    newest ``seq``; and the number of matching cases. Each filter and the
    order use an index, and only the page's rows are decrypted."""
    total = session.scalar(flt.apply(select(func.count(Case.id)))) or 0
    cases = session.scalars(
        flt.apply(select(Case))
        .options(selectinload(Case.attachments))
        .order_by(Case.urgent.desc(), Case.seq.desc(), Case.id.desc())
        .limit(per_page)
        .offset((max(1, page) - 1) * per_page)
    ).all()
    return inbox_rows(session, keyring, cases), total


def inbox_rows(session: Session, keyring: UnlockedKeyring, cases: Sequence[Case]) -> list[InboxRow]:
    """Inbox lines of ``cases`` (attachments loaded), in the given order;
    snippets decrypted only when the key is unlocked."""
    ids = [c.id for c in cases]
    tags: dict[int, list[str]] = {}
    for case_id, tag in session.execute(
        select(CaseTag.case_id, CaseTag.tag).where(CaseTag.case_id.in_(ids)).order_by(CaseTag.tag)
    ):
        tags.setdefault(case_id, []).append(tag)
    assignee_ids = {c.assignee_id for c in cases if c.assignee_id is not None}
    emails: dict[int, str] = {
        user_id: email
        for user_id, email in session.execute(select(User.id, User.email).where(User.id.in_(assignee_ids)))
    }
    data_key = keyring.data_key() if keyring.unlocked else None
    rows = []
    for case in cases:
        rows.append(
            InboxRow(
                seq=case.seq,
                envelope_id=case.envelope_id,
                day=case.day,
                sealed_by=case.sealed_by,
                status=case.status,
                urgent=bool(case.urgent),
                assignee=emails.get(case.assignee_id) if case.assignee_id is not None else None,
                attachment_count=len(case.attachments),
                snippet=narrative_snippet(case, data_key),
                tags=tags.get(case.id, []),
            )
        )
    return rows
